"""Experiment configuration: typed dataclasses loaded from YAML, strictly validated.

A config file has four sections (`model`, `data`, `train`, `output`) and a
`name`. Every key is checked when the file is read: an unknown key, a value of
the wrong type or outside its allowed set fails at once with an error naming
the key, so that a typo never silently trains the default.

Example:
>>> cfg = load_config("training/configs/smoke_gan.yaml", ["train.epochs=2"])
>>> cfg.train.epochs
2
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import string
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from keras_gen.utils.names import check_name

#: `model.augment: auto` turns DiffAugment on below this many training images
#: (Zhao et al. 2020 show the largest gains up to ~10k images).
AUTO_AUGMENT_BELOW = 10_000
AUTO_AUGMENT_POLICY = "translation,cutout"
#: `train.precision` values (resolved by `keras_gen.precision.resolve_precision`).
Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]


#: Sizes beyond which a value is a typo, not a setting (memory would run out).
MAX_LATENT_DIM = 16_384
MAX_WIDTH = 2_048
MAX_NUM_SAMPLES = 4_096
#: What `type: dae` trains against unless `model.denoising` says otherwise:
#: one blind model for the noise levels users meet.
DAE_DEFAULT_NOISE = {"noise": "gaussian", "sigma": [0.02, 0.25]}


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key."""


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
class ModelConfig:
    """What network to build.

    `type` picks the family; keys of the other family are ignored.

    VAE: `architecture` "conv" (strided convolutions) or "residual" (a
    residual block after each of them). `kl_schedule` drives the KL weight:
    "constant" (1), "warmup" (0 -> 1 over `kl_warmup_steps` steps) or
    "cyclical" (0 -> 1 over the first `kl_cycle_ratio` of every
    `kl_cycle_steps` steps); left out, it is "warmup" when
    `kl_warmup_steps` > 0, else "constant". `learned_sigma` ("global" or
    "channel") learns the Gaussian likelihood's standard deviation, starting
    at `gaussian_sigma`. `free_bits` floors each latent dimension's KL at
    that many nats. `denoising` trains on corrupted inputs with clean
    targets: a mapping with `noise` (gaussian, salt_pepper, mask), `sigma`
    (a number or [lo, hi]), `amount` and `mask_size`.

    DAE (`type: dae`, a fully convolutional denoising autoencoder that
    denoises images of any size): `width` filters, `depth` inner
    convolutions, `downsample` (a strided half-resolution middle instead of
    full resolution throughout), `residual` (predict the noise), `denoising`
    (default: blind Gaussian noise, sigma drawn in [0.02, 0.25] per image).
    `image_size` is the side of the training crops only.
    """

    type: Literal["gan", "vae", "dae"] = "gan"
    architecture: Literal["dcgan", "resnet", "conv", "residual"] = "dcgan"
    image_size: Literal[32, 64, 128] = 64
    latent_dim: int = 100
    width: int = 64
    seed: int | None = 0
    # GAN
    loss: Literal["ns", "hinge", "lsgan", "wgan-gp"] = "ns"
    gradient_penalty_weight: float = 10.0
    spectral_norm: bool = False
    ema_decay: float | None = None
    # DiffAugment policy, null, or "auto": translation,cutout when the data
    # has fewer than AUTO_AUGMENT_BELOW images (limited-data regime).
    augment: str | None = "auto"
    # Probability of each augmentation per example: "adaptive" (ADA) or a
    # fixed number in [0, 1]; at 1 cutout squares show in the samples.
    augment_p: Literal["adaptive"] | float = "adaptive"
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_speed_kimg: float = 100.0
    r1_gamma: float = 0.0
    n_critic: int = 1
    # VAE
    beta: float = 1.0
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    gaussian_sigma: float = 0.1
    learned_sigma: Literal["global", "channel"] | None = None
    free_bits: float = 0.0
    kl_schedule: Literal["constant", "warmup", "cyclical"] | None = None
    kl_warmup_steps: int = 0
    kl_cycle_steps: int = 1000
    kl_cycle_ratio: float = 0.5
    denoising: dict | None = None
    # DAE
    depth: int = 4
    downsample: bool = False
    residual: bool = True

    def validate(self, where: str) -> None:
        _positive(self, where, "latent_dim", "width", "n_critic", "depth")
        if self.type == "dae" and self.denoising is None:
            self.denoising = dict(DAE_DEFAULT_NOISE)
        _at_most(self, where, latent_dim=MAX_LATENT_DIM, width=MAX_WIDTH)
        if self.type == "vae" and self.architecture == "dcgan":
            # "dcgan" is just the GAN default; the VAE's is "conv".
            self.architecture = "conv"
        if self.type == "vae" and self.architecture not in ("conv", "residual"):
            raise ConfigError(
                f"{where}.architecture: {self.architecture!r} is not a VAE "
                "architecture; allowed: 'conv', 'residual'."
            )
        if self.type == "gan" and self.architecture not in ("dcgan", "resnet"):
            raise ConfigError(
                f"{where}.architecture: {self.architecture!r} is not a GAN "
                "architecture; allowed: 'dcgan', 'resnet'."
            )
        if self.augment and self.augment != "auto":
            from keras_gen.models.gan.augment import parse_policy

            try:
                parse_policy(self.augment)
            except ValueError as err:
                raise ConfigError(f"{where}.augment: {err}") from None
        if self.augment_p != "adaptive" and not 0 <= self.augment_p <= 1:
            raise ConfigError(
                f"{where}.augment_p must be 'adaptive' or a number in [0, 1], "
                f"got {self.augment_p}."
            )
        if not 0 < self.ada_target < 1 or self.ada_speed_kimg <= 0:
            raise ConfigError(
                f"{where}.ada_target must be in (0, 1) and ada_speed_kimg > 0."
            )
        _positive(self, where, "ada_interval")
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            raise ConfigError(f"{where}.ema_decay must be in [0, 1) or null.")
        if self.r1_gamma < 0:
            raise ConfigError(f"{where}.r1_gamma must be >= 0.")
        if self.gaussian_sigma <= 0:
            raise ConfigError(f"{where}.gaussian_sigma must be > 0.")
        if self.beta < 0 or self.kl_warmup_steps < 0:
            raise ConfigError(f"{where}.beta and kl_warmup_steps must be >= 0.")
        self._validate_vae(where)

    def _validate_vae(self, where: str) -> None:
        if self.free_bits < 0:
            raise ConfigError(f"{where}.free_bits must be >= 0, got {self.free_bits}.")
        if self.learned_sigma is not None and self.likelihood != "gaussian":
            raise ConfigError(
                f"{where}.learned_sigma needs {where}.likelihood 'gaussian', "
                f"got {self.likelihood!r}."
            )
        if self.kl_schedule is None:
            self.kl_schedule = "warmup" if self.kl_warmup_steps else "constant"
        if self.kl_schedule == "warmup" and self.kl_warmup_steps < 1:
            raise ConfigError(
                f"{where}.kl_schedule 'warmup' needs {where}.kl_warmup_steps >= 1."
            )
        _positive(self, where, "kl_cycle_steps")
        if not 0 < self.kl_cycle_ratio <= 1:
            raise ConfigError(
                f"{where}.kl_cycle_ratio must be in (0, 1], got {self.kl_cycle_ratio}."
            )
        if self.denoising is not None:
            from keras_gen.models.vae.corruption import normalize_spec

            try:
                self.denoising = normalize_spec(self.denoising)
            except ValueError as err:
                raise ConfigError(f"{where}.{err}") from None


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
    """A Keras optimizer by name and its main hyper-parameters."""

    name: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    weight_decay: float | None = None

    def validate(self, where: str) -> None:
        _positive(self, where, "learning_rate")
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
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


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


def _convert(value: Any, tp: Any, where: str) -> Any:
    """`value` checked (and converted, for int -> float) against type `tp`."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        # bool is an int in Python; 1 must not match Literal[True] and vice versa.
        if any(value == a and type(value) is type(a) for a in allowed):
            return value
        raise ConfigError(
            f"{where}: {value!r} is not allowed; expected {_describe(tp)}."
        )
    if origin in (Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _convert(value, option, where)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(f"{where}: {value!r} is not valid; expected {_describe(tp)}.")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}.")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}.")
        return _from_dict(tp, value, where)
    if tp is dict:
        if isinstance(value, dict):
            return dict(value)
    elif tp is list:
        if isinstance(value, list):
            return list(value)
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        # YAML 1.1 reads "1e-3" (no dot) as a string; accept it as a number.
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is not None:
            if not math.isfinite(number):
                raise ConfigError(f"{where}: {value!r} is not a finite number.")
            return number
    elif tp is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}.")


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in hints]
    if unknown:
        section = f"section '{where}'" if where else "the top level"
        raise ConfigError(
            f"Unknown config key '{_join(where, str(unknown[0]))}'. "
            f"Allowed keys in {section}: {', '.join(names)}."
        )
    kwargs = {k: _convert(v, hints[k], _join(where, k)) for k, v in data.items()}
    obj = cls(**kwargs)
    obj.validate(where)
    return obj


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
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


def config_from_dict(
    data: dict[str, Any], overrides: list[str] | None = None, cls: type = Config
) -> Any:
    """A validated `cls` (a `Config`) from a mapping plus `key=value` overrides."""
    data = dict(data)
    for text in overrides or []:
        key, value = parse_override(text)
        _set_path(data, key, value)
    return _from_dict(cls, data, "")


#: Paths that, written in a config file, are relative to that file's folder.
FILE_RELATIVE_PATHS = (("data", "path"), ("output", "work_dir"))


def rebase_paths(config: Any, written: dict, path: Path, overrides) -> Any:
    """Make the relative paths written in the file relative to its folder.

    So that `keras-gen train /abs/path/config.yaml` works from any folder.
    Paths given with `--set` stay relative to the working directory.
    """
    overridden = {o.split("=", 1)[0].strip() for o in overrides or []}
    for section, key in FILE_RELATIVE_PATHS:
        obj = getattr(config, section, None)
        if f"{section}.{key}" in overridden or key not in (written.get(section) or {}):
            continue
        value = getattr(obj, key, None)
        if (
            isinstance(value, str)
            and value
            and not Path(value).expanduser().is_absolute()
        ):
            setattr(obj, key, os.path.normpath(path.parent.resolve() / value))
    return config


def load_config(
    path: str | Path, overrides: list[str] | None = None, cls: type = Config
) -> Any:
    """Read a YAML config file, apply `--set` overrides and validate it.

    The config's `name` defaults to the file's stem; relative `data.path`
    and `output.work_dir` written in the file are relative to its folder.

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigError: a key is unknown or a value invalid (the key is named).
    """
    path = Path(path)
    data = read_yaml_mapping(path)
    data.setdefault("name", path.stem)
    written = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    try:
        config = config_from_dict(data, overrides, cls)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return rebase_paths(config, written, path, overrides)


def save_config(config: Config, path: str | Path) -> None:
    """Write `config` as YAML (the exact settings a run used).

    Relative paths are written absolute (against the working directory),
    so the file means the same wherever it is read from.
    """
    data = config.to_dict()
    for section, key in FILE_RELATIVE_PATHS:
        value = data.get(section, {}).get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            data[section][key] = os.path.abspath(value)
    with Path(path).open("w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
