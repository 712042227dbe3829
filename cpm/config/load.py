"""Loading `Config` from YAML: inheritance (`base:`), `--set` overrides, type checks, value checks."""
from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path

import yaml

from cpm.config.checks import raise_all, validate
from cpm.config.schema import Config
from cpm.errors import CPMError


def _suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(valid))}"


# YAML 1.1 (PyYAML) reads `1e-4` as a string (it wants `1.0e-4`); a float key takes what a person writes
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce(value, typ, where: str, problems: list):
    """Check `value` against the annotated type `typ` (int accepted for float); a mismatch is added to
    `problems` and the key's default is kept."""
    if is_dataclass(typ):
        return _build(typ, value, where, problems)
    if typing.get_origin(typ) is typing.Literal:  # the type is checked here, the value among the allowed in checks.py
        allowed = typing.get_args(typ)
        word = {False: "off", True: "on"}.get(value) if isinstance(value, bool) else None
        if word in allowed:  # YAML 1.1 reads a bare `off` / `on` as a boolean: `amp: off` names the option
            return word
        typ = type(allowed[0])
    if typ is float and isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)
    if typing.get_origin(typ) in (typing.Union, types.UnionType):  # e.g. bool | str: the first that fits
        for option in typing.get_args(typ):
            trial = []
            out = _coerce(value, option, where, trial)
            if not trial:
                return out
        names = " or ".join(t.__name__ for t in typing.get_args(typ))
        problems.append(f"config key '{where}': expected {names}, got {type(value).__name__} {value!r}")
        return _SKIP
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        list: lambda v: isinstance(v, list),
    }[typ]
    if not ok(value):
        problems.append(f"config key '{where}': expected {typ.__name__}, got {type(value).__name__} {value!r}")
        return _SKIP
    return float(value) if typ is float else value


_SKIP = object()  # a value that failed its type check: the default stays while the other keys are checked


def _build(cls, data, where: str = "", problems: list | None = None):
    """`cls(**data)` with every key checked; all problems of the tree are raised together, one line."""
    top = problems is None
    problems = [] if top else problems
    kwargs = {}
    if not isinstance(data, dict):
        problems.append(f"config section '{where or 'top level'}': expected a mapping, got {type(data).__name__}")
        data = {}
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            problems.append(f"unknown config key '{path}'{_suggest(str(key), names)}")
            continue
        value = _coerce(value, hints[key], path, problems)
        if value is not _SKIP:
            kwargs[key] = value
    if top:
        raise_all(problems)
    return cls(**kwargs)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path, chain: tuple = ()) -> dict:
    if not path.is_file():
        raise CPMError(f"config file not found: {path} (expected a YAML file)")
    if path.resolve() in chain:
        raise CPMError(f"config {path}: 'base' inheritance loops back on itself")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise CPMError(f"config {path}: YAML syntax error{line}: {problem}") from None
    if not isinstance(data, dict):
        raise CPMError(f"config {path}: expected a mapping at the top level, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    return _merge(_read_yaml((path.parent / base), chain + (path.resolve(),)), data)


def parse_override(text: str) -> dict:
    """'optim.lr=0.25' -> {'optim': {'lr': 0.25}}; the value is parsed as YAML."""
    if "=" not in text:
        raise CPMError(f"override '{text}': expected KEY=VALUE, e.g. optim.lr=0.25")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise CPMError(f"override '{text}': value is not valid YAML") from None
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def apply_overrides(data: dict, overrides=()) -> dict:
    """A copy of the nested config dict `data` with the `KEY=VALUE` overrides merged in."""
    for text in overrides:
        data = _merge(data, parse_override(text))
    return data


def config_from_dict(data: dict) -> Config:
    """Build and validate a `Config` from a nested dict (e.g. the one stored in a checkpoint)."""
    cfg = _build(Config, dict(data))
    validate(cfg)
    return cfg


def load_config(path, overrides=()) -> Config:
    """Read a YAML config (following `base:`), apply `KEY=VALUE` overrides, type- and value-check it."""
    return config_from_dict(apply_overrides(_read_yaml(Path(path)), overrides))
