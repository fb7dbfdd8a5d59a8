"""Config files: strict YAML, `base:` deltas, paths relative to their file.

A config file may start from another one: `base: other.yaml` (relative to
the file's folder) reads that file first, then the file's own keys are
merged into it (mappings deep-merged, scalars and lists replaced). A base
may have a base; a cycle fails. The base's `name` is not inherited (a
config is named by its own file). Relative paths (`FILE_RELATIVE_PATHS`) are
relative to the file that wrote them, and errors name the file a key came
from.

Example:
>>> tree = read_config_tree("training/configs/quality_dcgan_ema.yaml")
>>> tree.data["model"]["ema_decay"], tree.origin_of("model.width").name
(0.995, 'quality_dcgan.yaml')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from keras_gen.config_model import PRESET_PREFIX
from keras_gen.config_schema import ConfigError

#: Paths that, written in a config file, are relative to that file's folder.
FILE_RELATIVE_PATHS = (("data", "path"), ("output", "work_dir"), ("model", "init_from"))
#: The dotted key a validation message starts with, e.g. "model.width must ...".
_LEADING_KEY = re.compile(r"[A-Za-z_]\w*(?:\.\w+)*")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    f"key {key!r} is given twice (line {key_node.start_mark.line + 1}"
                    "); YAML would silently keep the last one."
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A config file's top-level mapping; errors name the file.

    Raises:
        FileNotFoundError: no such file.
        ConfigError: invalid YAML, a repeated key, an empty file or a
            top level that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file not found: {path}")
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if data is None:
        raise ConfigError(
            f"{path}: the file is empty; give at least the settings to change "
            "(an empty config would train every default)."
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level.")
    return data


@dataclass
class ConfigTree:
    """A config file merged with its bases, and which file wrote each key."""

    path: Path
    data: dict[str, Any]
    #: Dotted key of each value (not mapping) -> the file that wrote it.
    origins: dict[str, Path] = field(default_factory=dict)

    def origin_of(self, key: str | None) -> Path:
        """The file that wrote `key` (or everything under it); else `path`."""
        if not key:
            return self.path
        for dotted, origin in self.origins.items():
            if key == dotted or key.startswith(dotted + "."):
                return origin
        under = {o for d, o in self.origins.items() if d.startswith(key + ".")}
        return under.pop() if len(under) == 1 else self.path

    def forget(self, keys: list[str]) -> None:
        """`--set` keys: their values no longer come from a file."""
        for key in keys:
            for dotted in list(self.origins):
                if _covers(key, dotted) or _covers(dotted, key):
                    del self.origins[dotted]

    def error(self, err: ConfigError) -> ConfigError:
        """`err` prefixed with the file its key came from."""
        key = err.key
        if key is None:
            match = _LEADING_KEY.match(str(err))
            key = match.group(0) if match else None
        origin = self.origin_of(key)
        where = (
            str(origin) if origin == self.path else f"{origin} (base of {self.path})"
        )
        return ConfigError(f"{where}: {err}", err.key)


def _covers(prefix: str, key: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _leaves(data: dict[str, Any], where: str = "") -> list[str]:
    """Dotted keys of the values of `data` that are not mappings."""
    keys = []
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else str(key)
        if isinstance(value, dict) and value:
            keys += _leaves(value, dotted)
        elif not isinstance(value, dict):
            keys.append(dotted)
    return keys


def deep_merge(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """`base` updated by `delta`: mappings merged, anything else replaced."""
    merged = dict(base)
    for key, value in delta.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def rebase_file_paths(data: dict[str, Any], path: Path) -> None:
    """Make the relative paths written in the file relative to its folder.

    So that `keras-gen train /abs/path/config.yaml` works from any folder.
    """
    for section, key in FILE_RELATIVE_PATHS:
        node = data.get(section)
        value = node.get(key) if isinstance(node, dict) else None
        if not isinstance(value, str) or not value or value.startswith(PRESET_PREFIX):
            continue
        if not Path(value).expanduser().is_absolute():
            node[key] = os.path.normpath(path.parent.resolve() / value)


def read_config_tree(path: str | Path, _chain: tuple[Path, ...] = ()) -> ConfigTree:
    """A config file merged over its `base:` chain.

    Raises:
        FileNotFoundError: `path` does not exist.
        ConfigError: invalid YAML, a bad or missing base, or a cycle of bases
            (the message names the file that says `base:`).
    """
    path = Path(path)
    if path.resolve() in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path.resolve()))
        raise ConfigError(f"{_chain[-1]}: base: a cycle of bases ({cycle}).", "base")
    data = read_yaml_mapping(path)
    rebase_file_paths(data, path)
    base = data.pop("base", None)
    tree = ConfigTree(path, data, {key: path for key in _leaves(data)})
    if base is None:
        return tree
    parent = read_config_tree(_base_path(base, path), (*_chain, path.resolve()))
    parent.data.pop("name", None)
    parent.forget(list(tree.origins) + ["name"])
    tree.data = deep_merge(parent.data, data)
    tree.origins = {**parent.origins, **tree.origins}
    return tree


def _base_path(base: Any, path: Path) -> Path:
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(
            f"{path}: base: expected the path of a YAML config file, got {base!r}.",
            "base",
        )
    found = path.parent / Path(base).expanduser()
    if not found.is_file():
        raise ConfigError(
            f"{path}: base: {base!r} not found (looked for {found}).", "base"
        )
    return found
