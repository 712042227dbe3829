"""What every command-line entry point shares: the `--set` and `--debug` flags and one error boundary.

Exit codes of every cpm CLI (scripts/*.py and the cpm-* console scripts):
0 success; 1 finished, but some inputs failed (listed on stderr); 2 bad input (config, argument, file);
3 the operating system refused (permission, read-only or full disk); 4 an internal error (a bug: rerun with
--debug and report the traceback); 130 interrupted (Ctrl-C). Errors print one line, `error: ...`, on stderr;
`--debug` adds the traceback.
"""
from __future__ import annotations

import argparse
import errno
import re
import sys
import traceback
from typing import Callable, Sequence

from cpm.errors import CPMError

EXIT_PARTIAL, EXIT_USER, EXIT_OS, EXIT_BUG, EXIT_INTERRUPT = 1, 2, 3, 4, 130

# torch re-raises a DataLoader worker's exception in the main process as the same type, with a message of
# "Caught <Type> in DataLoader worker process N.\nOriginal Traceback ...\n<module>.<Type>: <message>"
_WORKER_RE = re.compile(r"Caught (\w+) in DataLoader worker process (\d+)\.")


def add_set_argument(p: argparse.ArgumentParser, example: str = "optim.lr=0.25 train.epochs=10") -> None:
    """`--set KEY=VALUE ...`, repeatable: every occurrence adds to the list (later ones win on the same key)."""
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", dest="overrides",
                   help=f"override config keys (repeatable), e.g. --set {example}")


def add_debug_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="print the Python traceback of an error")


def one_line(err: BaseException) -> str:
    """The user-facing line of `err`: a DataLoader worker's error is unwrapped to its own message."""
    text = str(err)
    worker = _WORKER_RE.match(text)
    if worker:
        last = [ln for ln in text.strip().splitlines() if ln.strip()][-1].strip()
        # the last line is "<module>.<Type>: <message>" (or just the type when the message was empty)
        message = last.split(": ", 1)[1] if ": " in last else last
        where = f" (in DataLoader worker {worker.group(2)})"
        return message + where if isinstance(err, CPMError) else f"{worker.group(1)}: {message}{where}"
    if isinstance(err, OSError):
        return _os_line(err)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if isinstance(err, CPMError) else f"{type(err).__name__}: {first}"


def _os_line(err: OSError) -> str:
    what = err.strerror or str(err) or type(err).__name__
    paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
    hint = {errno.EROFS: "choose a writable --out", errno.EACCES: "check the folder's permissions",
            errno.EPERM: "check the folder's permissions", errno.ENOSPC: "free some disk space"}.get(err.errno, "")
    return f"{what}{f': {paths}' if paths else ''}{f' ({hint})' if hint else ''}"


def exit_code(err: BaseException) -> int:
    """The exit code that tells the kind of failure apart (see the module docstring)."""
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPT
    if isinstance(err, CPMError):
        return EXIT_USER
    if isinstance(err, OSError) or "PytorchStreamWriter failed" in str(err):  # torch.save on a full disk
        return EXIT_OS
    return EXIT_BUG


def run_guarded(fn: Callable[[], int | None], argv: Sequence[str] | None = None,
                interrupted: str = "interrupted") -> int:
    """Run a CLI body; any exception ends as one `error: ...` line on stderr and a distinct exit code.

    `argv` (default sys.argv[1:]) is only looked at for `--debug`; `interrupted` is printed on Ctrl-C.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        code = fn()
        return 0 if code is None else int(code)
    except SystemExit:  # argparse's own usage errors (exit 2) and --help (exit 0)
        raise
    except BaseException as err:  # noqa: B902 - the boundary: everything becomes one line and a code
        if "--debug" in argv:
            traceback.print_exc()
        if isinstance(err, KeyboardInterrupt):
            print(interrupted, file=sys.stderr)
        else:
            code = exit_code(err)
            line = one_line(err)
            if code == EXIT_BUG:
                line = f"internal error: {line} (rerun with --debug for the traceback and report it)"
            print(f"error: {line}", file=sys.stderr)
        return exit_code(err)
