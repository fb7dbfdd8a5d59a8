"""Experiment configuration: typed dataclasses loaded from YAML, strictly validated.

A config file has four sections (`model`, `data`, `train`, `output`) and a
`name`. Every key is checked when the file is read: an unknown key, a value of
the wrong type or outside its allowed set fails at once with an error naming
the key, so that a typo never silently trains the default. The `model`
section is one class per family (`keras_gen.config_model`); a file may be a
delta of another one (`base:`, `keras_gen.config_files`).

Example:
>>> cfg = load_config("training/configs/smoke_gan.yaml", ["train.epochs=2"])
>>> cfg.train.epochs, type(cfg.model).__name__
(2, 'GANConfig')
"""

from __future__ import annotations

import copy
import dataclasses
import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from keras_gen.config_files import (
    FILE_RELATIVE_PATHS,
    ConfigTree,
    deep_merge,
    read_config_tree,
    read_yaml_mapping,
)
from keras_gen.config_model import (
    AUTO_AUGMENT_BELOW,
    AUTO_AUGMENT_POLICY,
    DAE_DEFAULT_NOISE,
    FAMILIES,
    MAX_LATENT_DIM,
    MAX_WIDTH,
    PRESET_PREFIX,
    DAEConfig,
    GANConfig,
    ModelConfig,
    VAEConfig,
)
from keras_gen.config_schema import (
    ConfigError,
    _at_most,
    _positive,
    from_dict,
    parse_override,
    set_path,
)
from keras_gen.utils.names import check_name

#: `train.precision` values (resolved by `keras_gen.precision.resolve_precision`).
Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]
MAX_NUM_SAMPLES = 4_096


@dataclass
class DataConfig:
    """Where images come from.

    `source: rooms` renders `num_images` procedural rooms (no download);
    `source: folder` reads every image under `path` (recursively).
    `source: tfrecord` reads the shards of `keras-gen data convert` (`path`: the
    output folder, a folder of `*.tfrecord` files or a glob).
    `source: tfds` reads the TFDS dataset `name` (e.g. `lsun/bedroom`), its
    `split`, from `data_dir`, image feature `image_key`; `download: true`
    prepares it if needed (network).
    `shuffle: false` feeds the images in a fixed order without flips (for
    debugging and exact comparisons between runs).
    `deterministic: false` lets parallel reading/decoding (tfrecord, tfds)
    return images out of order (faster on slow storage, not reproducible);
    `threads` gives those pipelines a private tf.data thread pool.
    `validation_images` > 0 (VAE) evaluates the model on that many held-out
    images after every epoch (`val_*` metrics, including the negative ELBO in
    bits/dim, and the active latent units): images of the folder
    `validation_path`, or for `source: rooms` rooms rendered with another
    seed (never in the training set).
    `labels` makes the model conditional on a class: `inferred` for a folder
    whose sub-folders are the classes, or an integer label of the procedural
    rooms (`has_bed`, `floor_texture`, `num_windows`, ...).
    """

    source: Literal["rooms", "folder", "tfds", "tfrecord"] = "rooms"
    path: str | None = None
    num_images: int | None = 10_000
    seed: int = 0
    cache: bool | str = True
    render_cache_dir: str | None = "~/.cache/keras_gen/rooms"
    shuffle: bool = True
    shuffle_buffer: int = 10_000
    flip: bool = True
    check: Literal["header", "full", "none"] = "header"
    name: str | None = None
    split: str = "train"
    data_dir: str | None = None
    image_key: str = "image"
    download: bool = False
    deterministic: bool = True
    threads: int | None = None
    validation_images: int = 0
    validation_path: str | None = None
    labels: str | None = None

    def validate(self, where: str) -> None:
        self._validate_labels(where)
        if self.validation_images < 0:
            raise ConfigError(f"{where}.validation_images must be >= 0.")
        if (
            self.validation_images
            and self.source != "rooms"
            and not (self.validation_path)
        ):
            raise ConfigError(
                f"{where}.validation_images needs {where}.validation_path (a folder "
                f"of held-out images) when {where}.source is '{self.source}'."
            )
        if self.source in ("folder", "tfrecord") and not self.path:
            raise ConfigError(
                f"{where}.path is required when {where}.source is '{self.source}'."
            )
        if self.source == "tfds" and not self.name:
            raise ConfigError(
                f"{where}.name (a TFDS dataset, e.g. lsun/bedroom) is required "
                f"when {where}.source is 'tfds'."
            )
        if self.source == "tfds" and not (self.split and self.image_key):
            raise ConfigError(
                f"{where}.split and {where}.image_key must be non-empty for 'tfds'."
            )
        if self.threads is not None:
            _positive(self, where, "threads")
        if self.source == "rooms" and not self.num_images:
            raise ConfigError(f"{where}.num_images is required for source 'rooms'.")
        if self.num_images is not None:
            _positive(self, where, "num_images")
        _positive(self, where, "shuffle_buffer")

    def _validate_labels(self, where: str) -> None:
        if self.labels is None:
            return
        if self.source == "folder":
            if self.labels != "inferred":
                raise ConfigError(
                    f"{where}.labels: {self.labels!r}; a folder's labels are its "
                    "class sub-folders: allowed: 'inferred' (or null)."
                )
            return
        if self.source == "rooms":
            from keras_gen.data.rooms import class_names

            try:
                class_names(self.labels)
            except ValueError as err:
                raise ConfigError(f"{where}.labels: {err}") from None
            return
        raise ConfigError(
            f"{where}.labels: class labels are read from 'folder' (inferred "
            f"from sub-folders) and 'rooms' sources, not {self.source!r}."
        )


@dataclass
class OptimizerConfig:
    """A Keras optimizer by name and its main hyper-parameters.

    `schedule: cosine` decays `learning_rate` to `alpha * learning_rate`
    along a cosine over `decay_steps` optimizer steps (Keras' `CosineDecay`);
    `decay_steps: null` means the whole run, `train.epochs` times the steps
    per epoch. The schedule counts the optimizer's own iterations, so a
    resumed run continues on the same curve.
    """

    name: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    weight_decay: float | None = None
    schedule: Literal["constant", "cosine"] = "constant"
    decay_steps: int | None = None
    alpha: float = 0.0

    def validate(self, where: str) -> None:
        _positive(self, where, "learning_rate")
        if self.decay_steps is not None:
            _positive(self, where, "decay_steps")
        if not 0 <= self.alpha <= 1:
            raise ConfigError(f"{where}.alpha must be in [0, 1], got {self.alpha!r}.")
        for name in ("beta_1", "beta_2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(
                    f"{where}.{name} must be in [0, 1), got {getattr(self, name)!r}."
                )
        if self.weight_decay is not None and self.weight_decay < 0:
            raise ConfigError(f"{where}.weight_decay must be >= 0 or null.")


@dataclass
class TrainConfig:
    """How long and how to train.

    `batch_size` is the global batch (split over replicas); alternatively
    `per_replica_batch_size` fixes the batch of each replica and the global
    batch grows with the number of replicas (set the other one to null).
    `steps_per_epoch` defaults to one pass over the data. The GAN uses
    `d_optimizer`/`g_optimizer` (each defaults to `optimizer`), the VAE uses
    `optimizer`. `precision: auto` trains in mixed_bfloat16 on a CPU with
    bfloat16 instructions (AVX512-BF16 or AMX) and no GPU, else in float32
    (`keras_gen.precision.resolve_precision`); the weights stay float32.
    """

    batch_size: int | None = 64
    per_replica_batch_size: int | None = None
    epochs: int = 10
    steps_per_epoch: int | None = None
    seed: int = 0
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    d_optimizer: OptimizerConfig | None = None
    g_optimizer: OptimizerConfig | None = None
    distribute: Literal["auto", "none", "mirrored", "multi_worker", "tpu"] = "auto"
    precision: Precision = "auto"
    steps_per_execution: int = 1
    jit_compile: bool = False
    backup_every: int = 1
    deterministic: bool = False

    def validate(self, where: str) -> None:
        if (self.batch_size is None) == (self.per_replica_batch_size is None):
            raise ConfigError(
                f"{where}: give exactly one of batch_size (global) and "
                "per_replica_batch_size."
            )
        if self.batch_size is not None:
            _positive(self, where, "batch_size")
        if self.per_replica_batch_size is not None:
            _positive(self, where, "per_replica_batch_size")
        _positive(self, where, "epochs", "steps_per_execution", "backup_every")
        if self.steps_per_epoch is not None:
            _positive(self, where, "steps_per_epoch")


@dataclass
class OutputConfig:
    """What the run writes and where. `{name}` expands to the config's name."""

    work_dir: str = "runs/{name}"
    export_dir: str | None = "saved_models"
    num_samples: int = 64
    sample_every: int = 1
    tensorboard: bool = True
    verbose: Literal[0, 1, 2] = 1
    # Keep `checkpoints/epoch_NNN.keras` every this many epochs (null: only
    # the latest model.keras), e.g. to evaluate one run at several budgets.
    checkpoint_every: int | None = None

    def validate(self, where: str) -> None:
        _positive(self, where, "num_samples", "sample_every")
        _at_most(self, where, num_samples=MAX_NUM_SAMPLES)
        check_work_dir(self.work_dir, where)
        if self.checkpoint_every is not None:
            _positive(self, where, "checkpoint_every")


def check_work_dir(work_dir: str, where: str) -> None:
    """A work dir template: not empty, and no placeholder but `{name}`."""
    if not work_dir:
        raise ConfigError(f"{where}.work_dir must not be empty.")
    fields = {f for _, f, _, _ in string.Formatter().parse(work_dir) if f}
    if fields - {"name"}:
        raise ConfigError(
            f"{where}.work_dir: unknown placeholder(s) "
            f"{', '.join('{' + f + '}' for f in sorted(fields - {'name'}))}; "
            "only {name} is replaced."
        )


class NamedConfig:
    """What a whole config file shares: a safe `name`, a dict form."""

    name: str

    def validate(self, where: str = "") -> None:
        try:
            check_name(self.name, "name")
        except ValueError as err:
            raise ConfigError(str(err)) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Config(NamedConfig):
    """A whole experiment."""

    name: str = "experiment"
    # A GANConfig, VAEConfig or DAEConfig, as `model.type` says.
    model: ModelConfig = field(default_factory=GANConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def config_from_dict(
    data: dict[str, Any], overrides: list[str] | None = None, cls: type = Config
) -> Any:
    """A validated `cls` (a `Config`) from a mapping plus `key=value` overrides."""
    data = copy.deepcopy(data)
    for text in overrides or []:
        key, value = parse_override(text)
        set_path(data, key, value)
    return from_dict(cls, data, "")


def load_config(
    path: str | Path, overrides: list[str] | None = None, cls: type = Config
) -> Any:
    """Read a YAML config file (and its `base:` files), apply `--set` overrides.

    The config's `name` defaults to the file's stem; relative `data.path`,
    `output.work_dir` and `model.init_from` written in a file are relative to
    that file's folder (`--set` values to the working directory).

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigError: a key is unknown or a value invalid (the key is named,
            with the file it came from).
    """
    path = Path(path)
    tree = read_config_tree(path)
    tree.data.setdefault("name", path.stem)
    try:
        tree.forget([parse_override(o)[0] for o in overrides or []])
        return config_from_dict(tree.data, overrides, cls)
    except ConfigError as err:
        raise tree.error(err) from None


def save_config(config: Config, path: str | Path) -> None:
    """Write `config` as YAML (the exact settings a run used).

    Only the keys of the model's family are written. Relative paths are
    written absolute (against the working directory), so the file means the
    same wherever it is read from.
    """
    data = config.to_dict()
    for section, key in FILE_RELATIVE_PATHS:
        value = data.get(section, {}).get(key)
        if (
            isinstance(value, str)
            and value
            and not value.startswith(PRESET_PREFIX)
            and not Path(value).is_absolute()
        ):
            data[section][key] = os.path.abspath(value)
    with Path(path).open("w") as f:
        yaml.safe_dump(data, f, sort_keys=False)


__all__ = [
    "AUTO_AUGMENT_BELOW",
    "AUTO_AUGMENT_POLICY",
    "DAE_DEFAULT_NOISE",
    "FAMILIES",
    "FILE_RELATIVE_PATHS",
    "MAX_LATENT_DIM",
    "MAX_NUM_SAMPLES",
    "MAX_WIDTH",
    "PRESET_PREFIX",
    "Config",
    "ConfigError",
    "ConfigTree",
    "DAEConfig",
    "DataConfig",
    "GANConfig",
    "ModelConfig",
    "NamedConfig",
    "OptimizerConfig",
    "OutputConfig",
    "Precision",
    "TrainConfig",
    "VAEConfig",
    "_at_most",
    "_positive",
    "check_work_dir",
    "config_from_dict",
    "deep_merge",
    "load_config",
    "parse_override",
    "read_config_tree",
    "read_yaml_mapping",
    "save_config",
]
