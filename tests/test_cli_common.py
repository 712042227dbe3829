"""The error boundary shared by every CLI: one line per failure, one exit code per kind of failure."""
import argparse
import errno

import pytest

from cpm.cli.common import (EXIT_BUG, EXIT_INTERRUPT, EXIT_OS, EXIT_USER, add_debug_argument, add_set_argument,
                            one_line, run_guarded)
from cpm.errors import CPMError

# what torch's DataLoader re-raises in the main process when a worker raised CPMError("bad sample 3")
WORKER_TEXT = ("Caught CPMError in DataLoader worker process 1.\nOriginal Traceback (most recent call last):\n"
               "  File \"x.py\", line 3, in f\n    raise CPMError(...)\ncpm.errors.CPMError: data.npy: bad sample 3\n")


def _raise(err):
    def body():
        raise err
    return body


@pytest.mark.parametrize("err, code, line", [
    (CPMError("config key 'x': must be >= 1"), EXIT_USER, "error: config key 'x': must be >= 1"),
    (CPMError(WORKER_TEXT), EXIT_USER, "error: data.npy: bad sample 3 (in DataLoader worker 1)"),
    (ValueError(WORKER_TEXT.replace("CPMError", "ValueError")), EXIT_BUG,
     "error: internal error: ValueError: data.npy: bad sample 3 (in DataLoader worker 1) (rerun with --debug"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/run"), EXIT_OS,
     "error: Read-only file system: /ro/run (choose a writable --out)"),
    (PermissionError(errno.EACCES, "Permission denied", "/x"), EXIT_OS,
     "error: Permission denied: /x (check the folder's permissions)"),
    (OSError(errno.ENOSPC, "No space left on device"), EXIT_OS, "error: No space left on device (free some disk"),
    (KeyError("k"), EXIT_BUG, "error: internal error: KeyError: 'k' (rerun with --debug"),
])
def test_each_failure_is_one_line_and_a_distinct_code(capsys, err, code, line):
    assert run_guarded(_raise(err), argv=[]) == code
    err_text = capsys.readouterr().err
    assert err_text.startswith(line) and err_text.count("\n") == 1 and "Traceback" not in err_text


def test_interrupt_debug_and_success(capsys):
    assert run_guarded(_raise(KeyboardInterrupt()), argv=[], interrupted="stopped; --resume auto") == EXIT_INTERRUPT
    assert capsys.readouterr().err == "stopped; --resume auto\n"
    assert run_guarded(_raise(CPMError("bad")), argv=["--debug"]) == EXIT_USER
    assert "Traceback" in capsys.readouterr().err  # --debug: the traceback, then the same line and code
    assert run_guarded(lambda: None, argv=[]) == 0 and run_guarded(lambda: 1, argv=[]) == 1
    assert one_line(CPMError("")) == ""


def test_repeated_set_flags_accumulate():
    p = argparse.ArgumentParser()
    add_set_argument(p)
    add_debug_argument(p)
    args = p.parse_args(["--set", "a=1", "b=2", "--debug", "--set", "c=3"])
    assert args.overrides == ["a=1", "b=2", "c=3"] and args.debug
