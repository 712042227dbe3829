"""Class names: shipped lists of the benchmarks, or the config's own (`data.class_names`, `data.class_names_file`).

Shipped (cpm/data/class_lists/, line i = label i, 0-based):
  ntu120.txt      NTU RGB+D 120 actions A1..A120 as listed in the dataset's README (github.com/shahroudy/NTURGB-D);
                  NTU RGB+D 60 is its first 60 lines (A1..A60)
  pku_mmd.txt     PKU-MMD's 51 actions, label k = line k of the release's Actions.xlsx (1-based in its .label files)
  msr_action3d.txt  MSR Action3D's 20 actions a01..a20 (Li et al. 2010, the dataset readme)
"""
from __future__ import annotations

from pathlib import Path

from cpm.errors import CPMError

LISTS = Path(__file__).resolve().parent / "class_lists"
SHIPPED = {"ntu60": ("ntu120.txt", 60), "ntu120": ("ntu120.txt", 120), "pku_mmd": ("pku_mmd.txt", 51),
           "msr_action3d": ("msr_action3d.txt", 20)}  # name -> (file, number of classes)


def read_class_names(source: str) -> list[str]:
    """Names of a shipped list (see `SHIPPED`) or of a text file with one name per line (line i = label i)."""
    if source in SHIPPED:
        file, n = SHIPPED[source]
        return (LISTS / file).read_text(encoding="utf-8").splitlines()[:n]
    path = Path(source)
    if not path.is_file():
        raise CPMError(f"data.class_names_file: '{source}' is neither a file nor a shipped list "
                       f"({', '.join(SHIPPED)})")
    try:
        lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise CPMError(f"data.class_names_file: {path} cannot be read as UTF-8 text ({err})") from None
    empty = [i for i, name in enumerate(lines) if not name.strip()]
    if empty:
        raise CPMError(f"data.class_names_file: {path} line {empty[0] + 1} is empty (expected one class name "
                       "per line, line i naming label i - 1)")
    return [name.strip() for name in lines]


def class_names_of(data_cfg, num_classes: int) -> list[str] | None:
    """The first `num_classes` names the data config gives, or the embedded demo dataset's own (None when
    there are none); one-line error when it names fewer classes than the data has."""
    names, source = list(data_cfg.class_names), data_cfg.class_names_file
    if names and source:
        raise CPMError("data.class_names and data.class_names_file are both set; keep one")
    if source:
        names, key = read_class_names(source), f"data.class_names_file ({source})"
    elif not names and data_cfg.format == "synthetic":
        from cpm.data.motions import CLASS_NAMES

        names, key = list(CLASS_NAMES), "the synthetic dataset's classes"
    else:
        key = "data.class_names"
    if not names:
        return None
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise CPMError(f"{key}: expected non-empty strings, found {bad[0]!r}")
    if len(names) < num_classes:
        raise CPMError(f"{key}: {len(names)} names for {num_classes} classes in the data (line/entry i names "
                       f"label i, 0-based)")
    return [str(n) for n in names[:num_classes]]


def label_names(num_classes: int, names: list[str] | None) -> list[str]:
    """`names`, or the labels as numbers when there are none."""
    return list(names) if names is not None else [str(i) for i in range(num_classes)]
