"""docs/reproducing.md: every command in it names an existing script, uses only options that script offers, and
every --config it names loads with its --set overrides (a --help-level check; the protocols themselves run on
tiny data in test_eval_scripts.py and test_trainer.py)."""
import contextlib
import io
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

from cpm.config import load_config

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "reproducing.md"


def _commands() -> list[list[str]]:
    """Every `python scripts/X.py ...` of the doc's bash blocks as argv lists; a `for V in a b; do ...; done`
    loop is expanded with its first value."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    out = []
    for line in (ln.strip() for block in blocks for ln in block.splitlines()):
        if not line or line.startswith("#"):
            continue
        loop = re.match(r"for (\w+) in (\S+)[^;]*; do (.*); done(.*)", line)
        if loop:
            var, first, body, rest = loop.groups()
            line = re.sub(rf"\${var}\b", first, body) + rest
        for part in re.split(r"&&|;", line):
            argv = shlex.split(part)
            assert argv[:1] == ["python"] and argv[1].startswith("scripts/"), f"not a script call: {part!r}"
            out.append(argv[1:])
    return out


def _help(script: str, cache={}) -> str:  # noqa: B006 - one --help per script
    if script not in cache:
        text, argv = io.StringIO(), sys.argv
        sys.argv = [script, "--help"]
        try:
            with contextlib.redirect_stdout(text), pytest.raises(SystemExit) as done:
                runpy.run_path(str(REPO / script), run_name="__main__")
        finally:
            sys.argv = argv
        assert done.value.code in (0, None), f"{script} --help failed"
        cache[script] = text.getvalue()
    return cache[script]


def _overrides(argv: list[str]) -> list[str]:
    if "--set" not in argv:
        return []
    rest = argv[argv.index("--set") + 1:]
    return rest[:next((i for i, a in enumerate(rest) if a.startswith("--")), len(rest))]


def test_every_command_in_the_reproduction_guide_parses():
    commands = _commands()
    assert len(commands) > 40  # every cell of Tables 1-4 and the figures
    scripts = {argv[0] for argv in commands}
    assert {"scripts/pretrain.py", "scripts/linear_eval.py", "scripts/ensemble.py", "scripts/prepare_ntu.py",
            "scripts/semi_supervised.py", "scripts/finetune.py", "scripts/results_table.py"} <= scripts
    configs = 0
    for argv in commands:
        assert (REPO / argv[0]).is_file(), argv[0]
        text = _help(argv[0])
        for opt in (a for a in argv[1:] if a.startswith("--")):
            assert re.search(rf"{re.escape(opt)}\b", text), f"{argv[0]} has no option {opt}"
        if "--config" in argv:
            load_config(REPO / argv[argv.index("--config") + 1], _overrides(argv))
            configs += 1
    assert configs >= 20


def test_guide_lists_every_lineage_choice_and_the_placeholder_for_16():
    text = DOC.read_text()
    for key in ("model.data_bn", "model.init", "model.sync_bn", "eval.report", "eval.mining_k", "--bodies lineage",
                "--rotation clip", "--fusion logits", "batch 128"):
        assert key in text, key
    assert "## Target branch and Eq. 7 (see #16)" in text
