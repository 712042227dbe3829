# Two commands: `make demo` and `make test`. Both install what is missing first.
PYTHON ?= python3
TORCH_CPU ?= torch==2.13.0

.PHONY: install demo test clean

install:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "$(TORCH_CPU)"
	@$(PYTHON) -m pip install -q -e ".[dev]"

demo: install
	$(PYTHON) scripts/demo.py

# pytest exits 5 when it collects nothing; that is not a failure of the code under test
test: install
	@$(PYTHON) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

clean:
	rm -rf runs/demo .pytest_cache
