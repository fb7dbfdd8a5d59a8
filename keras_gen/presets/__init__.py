"""Pretrained models that ship with the package: sample, denoise, serve, fine-tune.

Each preset is a folder `keras_gen/presets/<name>/` holding `model.keras`
(the trained model without optimizer state) and `preset.json`, its record:
task, training data and licence, the training config, images seen, wall
time, evaluation figures with the command that produced them, and the
sha256 of the weights file (checked on every load). Its SavedModel for
TensorFlow Serving lives in the repository's `saved_models/<name>/1/`.

Everywhere a command or function takes a MODEL, `preset:NAME` names a
preset (the CLI also has `--preset NAME`).

Example:
>>> from keras_gen import presets
>>> [p.name for p in presets.list_presets()]  # doctest: +SKIP
['bedroom_gan_64', 'procedural_gan_64', 'rooms_denoiser']
>>> gan = presets.load("procedural_gan_64")  # doctest: +SKIP
>>> gan.generate_uint8(4, seed=0).shape  # doctest: +SKIP
(4, 64, 64, 3)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keras_gen.utils.files import file_digest as sha256_of
from keras_gen.utils.names import is_valid_name

#: Where the presets live: inside the installed package, or the folder
#: `KERAS_GEN_PRESETS_DIR` names (a private collection, or tests).
PRESETS_DIR = Path(
    os.environ.get("KERAS_GEN_PRESETS_DIR") or Path(__file__).resolve().parent
)
PRESET_FILE = "preset.json"
MODEL_FILE = "model.keras"
#: Prefix of a MODEL argument that names a preset.
PREFIX = "preset:"


@dataclass(frozen=True)
class Preset:
    """The record of one preset (its `preset.json`), as `list_presets` gives it."""

    name: str
    task: str
    description: str
    model_class: str
    data: dict
    licence: str
    images_seen: int
    wall_time_s: float
    size_bytes: int
    sha256: str
    path: Path
    evaluation: list = field(default_factory=list)
    class_names: list | None = None
    record: dict = field(default_factory=dict, repr=False)

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    def figures(self) -> str:
        """The first evaluation's figures as `key value, ...` (for tables)."""
        if not self.evaluation:
            return ""
        figures = self.evaluation[0].get("figures", {})
        return ", ".join(f"{k} {_short(v)}" for k, v in figures.items())


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _read(folder: Path) -> Preset:
    record = json.loads((folder / PRESET_FILE).read_text())
    keys = ("task", "description", "model_class", "data", "licence", "sha256")
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"{folder / PRESET_FILE}: missing keys {missing}")
    return Preset(
        name=folder.name,
        task=record["task"],
        description=record["description"],
        model_class=record["model_class"],
        data=record["data"],
        licence=record["licence"],
        images_seen=int(record.get("images_seen", 0)),
        wall_time_s=float(record.get("wall_time_s", 0.0)),
        size_bytes=int(record.get("size_bytes", 0)),
        sha256=record["sha256"],
        path=folder,
        evaluation=list(record.get("evaluation", [])),
        class_names=record.get("class_names"),
        record=record,
    )


def list_presets() -> list[Preset]:
    """Every preset shipped with the package, sorted by name."""
    return [_read(p.parent) for p in sorted(PRESETS_DIR.glob(f"*/{PRESET_FILE}"))]


def names() -> list[str]:
    return [p.name for p in list_presets()]


def get(name: str) -> Preset:
    """The record of preset `name`.

    Raises:
        ValueError: no such preset (the message lists the valid names).
    """
    folder = PRESETS_DIR / name
    if not is_valid_name(name) or not (folder / PRESET_FILE).is_file():
        raise ValueError(
            f"unknown preset {name!r}; valid names: {', '.join(names()) or '(none)'}"
        )
    return _read(folder)


def model_path(name: str, verify: bool = True) -> Path:
    """The `.keras` file of preset `name`, its sha256 checked against the record.

    Raises:
        ValueError: unknown name, or the file does not match its record
            (changed or truncated since it was published).
    """
    preset = get(name)
    path = preset.model_path
    if verify and sha256_of(path) != preset.sha256:
        raise ValueError(
            f"{path}: sha256 does not match {preset.path / PRESET_FILE} "
            "(the weights changed or are truncated); reinstall keras-gen"
        )
    return path


def preset_name(model: Any) -> str | None:
    """NAME of a `preset:NAME` MODEL argument; None for anything else."""
    if isinstance(model, str) and model.startswith(PREFIX):
        return model[len(PREFIX) :]
    return None


def load(name: str, compile: bool = False) -> Any:
    """The Keras model of preset `name` (`GAN`, `VAE` or `DenoisingAutoencoder`).

    Loaded in Keras' safe mode; `compile=False` (the default) gives a model
    for inference; compile it yourself (or use `model.init_from` in a
    config) to train on.

    Example:
    >>> denoiser = load("rooms_denoiser")  # doctest: +SKIP
    """
    from keras_gen.precision import load_model

    return load_model(model_path(preset_name(name) or name), compile=compile)


def from_preset(cls: type, name: str, compile: bool = False) -> Any:
    """`cls.from_preset(name)`: `load(name)`, checked to be a `cls`."""
    model = load(name, compile=compile)
    if not isinstance(model, cls):
        raise ValueError(
            f"preset {name!r} is a {type(model).__name__}, not a {cls.__name__}; "
            f"load it with keras_gen.presets.load({name!r})"
        )
    return model


def table() -> str:
    """`keras-gen presets`: one Markdown row per preset."""
    rows = [
        "| name | task | size | data | licence | images seen | figures |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in list_presets():
        rows.append(
            f"| {p.name} | {p.task} | {p.size_bytes / 1e6:.1f} MB | "
            f"{p.data.get('name', '')} | {p.licence} | {p.images_seen:,} | "
            f"{p.figures()} |"
        )
    return "\n".join(rows)
