# Two commands: `make demo` and `make test`. Both install what is missing first.
PYTHON ?= python3
TORCH_CPU ?= torch==2.13.0

.PHONY: install demo test clean

install:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "$(TORCH_CPU)"
	@$(PYTHON) -m pip install -q -e ".[dev]"

# pretrain on the embedded synthetic dataset (both stages), then linear-probe it next to a random-init encoder
demo: install
	$(PYTHON) scripts/pretrain.py --config configs/demo.yaml --force
	$(PYTHON) scripts/linear_eval.py --config configs/demo.yaml --checkpoint runs/demo/last.pt --with-random-init --with-input

# pytest exits 5 when it collects nothing; that is not a failure of the code under test
test: install
	@$(PYTHON) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

clean:
	rm -rf runs/demo .pytest_cache
