"""Typed, strict reading of config mappings into dataclasses.

The rules every config section follows (`keras_gen.config`,
`keras_gen.series.config`): a value is checked against its field's type
annotation (`Literal`, unions, `int`, `float`, nested dataclasses, ...), an
unknown key fails naming the key and the allowed ones, and each dataclass then
checks its values in `validate(where)`.

A dataclass with a `select_variant(data, where)` classmethod (the model
families of `keras_gen.config_model`) picks the class that reads a mapping.

Example:
>>> from keras_gen.config import OptimizerConfig
>>> from_dict(OptimizerConfig, {"learning_rate": 1}, "train.optimizer").learning_rate
1.0
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

import yaml


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key.

    `key` is the dotted key at fault when the raiser knew it (so that a
    config built from several files can name the file the key came from).
    """

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def _positive(obj: Any, where: str, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value <= 0:
            raise ConfigError(f"{where}.{name} must be > 0, got {value!r}.")


def _at_most(obj: Any, where: str, **limits: int) -> None:
    for name, limit in limits.items():
        value = getattr(obj, name)
        if value > limit:
            raise ConfigError(
                f"{where}.{name} is {value}: more than {limit:,}, surely a typo "
                "(it would not fit in memory)."
            )


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping of {tp.__name__} keys"
    return getattr(tp, "__name__", str(tp))


def _convert_literal(value: Any, tp: Any, where: str) -> Any:
    # bool is an int in Python; 1 must not match Literal[True] and vice versa.
    if any(value == a and type(value) is type(a) for a in typing.get_args(tp)):
        return value
    raise ConfigError(
        f"{where}: {value!r} is not allowed; expected {_describe(tp)}.", where
    )


def _convert_union(value: Any, tp: Any, where: str) -> Any:
    for option in typing.get_args(tp):
        with contextlib.suppress(ConfigError):
            return _convert(value, option, where)
    raise ConfigError(
        f"{where}: {value!r} is not valid; expected {_describe(tp)}.", where
    )


def _to_float(value: Any, where: str) -> float | None:
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    # YAML 1.1 reads "1e-3" (no dot) as a string; accept it as a number.
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if number is not None and not math.isfinite(number):
        raise ConfigError(f"{where}: {value!r} is not a finite number.", where)
    return number


def _convert_plain(value: Any, tp: Any) -> tuple[bool, Any]:
    """(True, converted) if `value` fits the plain type `tp`, else (False, None)."""
    if tp is dict:
        return isinstance(value, dict), dict(value) if isinstance(value, dict) else None
    if tp is list:
        return isinstance(value, list), list(value) if isinstance(value, list) else None
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is str:
        return isinstance(value, str), value
    return False, None


def _convert(value: Any, tp: Any, where: str) -> Any:
    """`value` checked (and converted, for int -> float) against type `tp`."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return _convert_literal(value, tp, where)
    if origin in (Union, types.UnionType):
        return _convert_union(value, tp, where)
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}.", where)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(
                f"{where}: expected {_describe(tp)}, got {value!r}.", where
            )
        return from_dict(tp, value, where)
    if tp is float:
        number = _to_float(value, where)
        if number is not None:
            return number
    else:
        ok, converted = _convert_plain(value, tp)
        if ok:
            return converted
    raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}.", where)


def from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """A validated `cls` from a mapping; `where` is its dotted section."""
    select = getattr(cls, "select_variant", None)
    if select is not None:
        cls, data = select(data, where)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        section = f"section '{where}'" if where else "the top level"
        key = _join(where, str(unknown[0]))
        raise ConfigError(
            f"Unknown config key '{key}'. "
            f"Allowed keys in {section}: {', '.join(names)}.",
            key,
        )
    kwargs = {k: _convert(v, hints[k], _join(where, k)) for k, v in data.items()}
    obj = cls(**kwargs)
    obj.validate(where)
    return obj


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """`data[a][b][c] = value` for 'a.b.c', creating missing sections."""
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: '{key}' is not a section.")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """'train.epochs=3' -> ('train.epochs', 3); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}.")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set expects key=value, got {text!r}.")
    return key, yaml.safe_load(raw) if raw.strip() else None
