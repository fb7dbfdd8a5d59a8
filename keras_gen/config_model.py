"""The `model` section: one config class per family, chosen by `model.type`.

`ModelConfig` holds what every family has (`type`, `architecture`,
`image_size`, `width`, `seed`, `init_from`); `GANConfig`, `VAEConfig` and
`DAEConfig` add their own keys. A key of another family fails naming the key
and its family, unless it has that family's default value: configs saved by
older runs listed every family's keys, and still load.

Example:
>>> from keras_gen.config import config_from_dict
>>> type(config_from_dict({"model": {"type": "vae"}}).model).__name__
'VAEConfig'
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from keras_gen.config_schema import (
    ConfigError,
    _at_most,
    _convert,
    _join,
    _positive,
)
from keras_gen.presets import PREFIX as PRESET_PREFIX  # `model.init_from: preset:NAME`
from keras_gen.utils.names import check_name

#: `model.augment: auto` turns DiffAugment on below this many training images
#: (Zhao et al. 2020 show the largest gains up to ~10k images).
AUTO_AUGMENT_BELOW = 10_000
AUTO_AUGMENT_POLICY = "translation,cutout"
#: Sizes beyond which a value is a typo, not a setting (memory would run out).
MAX_LATENT_DIM = 16_384
MAX_WIDTH = 2_048
#: What `type: dae` trains against unless `model.denoising` says otherwise:
#: one blind model for the noise levels users meet.
DAE_DEFAULT_NOISE = {"noise": "gaussian", "sigma": [0.02, 0.25]}

Family = Literal["gan", "vae", "dae"]


@dataclass
class ModelConfig:
    """What network to build: the keys every family has.

    `type` picks the family (`GANConfig`, `VAEConfig`, `DAEConfig`), each
    with its own `architecture` values. `init_from` starts the networks from
    trained weights: `preset:NAME` or the path of a `.keras` model (relative
    to the config file, like `data.path`).
    """

    FAMILY: ClassVar[str] = ""
    ARCHITECTURES: ClassVar[tuple[str, ...]] = ()
    #: Accepted `architecture` spellings -> their name in this family.
    ARCHITECTURE_ALIASES: ClassVar[dict[str, str]] = {}
    ARCHITECTURE_NOTE: ClassVar[str] = ""

    type: Family = "gan"
    architecture: str = "dcgan"
    image_size: Literal[32, 64, 128] = 64
    width: int = 64
    seed: int | None = 0
    init_from: str | None = None

    @classmethod
    def select_variant(cls, data: dict[str, Any], where: str) -> tuple[type, dict]:
        """The family class of `data` and its keys (see `select_family`)."""
        return select_family(data, where)

    def validate(self, where: str) -> None:
        _positive(self, where, "width")
        _at_most(self, where, width=MAX_WIDTH)
        self._check_architecture(where)
        check_init_from(self.init_from, where)

    def _check_architecture(self, where: str) -> None:
        arch = self.ARCHITECTURE_ALIASES.get(self.architecture, self.architecture)
        if arch not in self.ARCHITECTURES:
            allowed = ", ".join(repr(a) for a in self.ARCHITECTURES)
            raise ConfigError(
                f"{where}.architecture: {self.architecture!r} is not a "
                f"{self.FAMILY.upper()} architecture; allowed: {allowed}"
                f"{self.ARCHITECTURE_NOTE}."
            )
        self.architecture = arch

    def _check_latent_dim(self, where: str) -> None:
        _positive(self, where, "latent_dim")
        _at_most(self, where, latent_dim=MAX_LATENT_DIM)


@dataclass
class GANConfig(ModelConfig):
    """A GAN (`type: gan`): architecture `dcgan`, `resnet` or `fastgan`.

    `augment` is a DiffAugment policy, null, or `auto` (translation,cutout
    when the data has fewer than `AUTO_AUGMENT_BELOW` images).
    `augment_p` is the probability of each augmentation per example:
    "adaptive" (ADA) or a fixed number in [0, 1]. `freeze_d_layers` keeps
    the first that many discriminator layers (with weights) frozen while
    fine-tuning from `init_from` (FreezeD). `reconstruction_weight` weighs
    the self-supervised reconstruction loss of `fastgan`'s discriminator;
    `class_loss_weight` > 0 gives a conditional GAN's discriminator an
    AC-GAN class head with that loss weight.
    """

    FAMILY: ClassVar[str] = "gan"
    ARCHITECTURES: ClassVar[tuple[str, ...]] = ("dcgan", "resnet", "fastgan")

    type: Family = "gan"
    architecture: str = "dcgan"
    latent_dim: int = 100
    loss: Literal["ns", "hinge", "lsgan", "wgan-gp"] = "ns"
    gradient_penalty_weight: float = 10.0
    spectral_norm: bool = False
    ema_decay: float | None = None
    augment: str | None = "auto"
    augment_p: Literal["adaptive"] | float = "adaptive"
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_speed_kimg: float = 100.0
    r1_gamma: float = 0.0
    n_critic: int = 1
    reconstruction_weight: float = 1.0
    class_loss_weight: float = 0.0
    freeze_d_layers: int = 0

    def validate(self, where: str) -> None:
        super().validate(where)
        self._check_latent_dim(where)
        _positive(self, where, "n_critic", "ada_interval")
        self._check_augment(where)
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            raise ConfigError(f"{where}.ema_decay must be in [0, 1) or null.")
        if self.r1_gamma < 0:
            raise ConfigError(f"{where}.r1_gamma must be >= 0.")
        if self.reconstruction_weight < 0 or self.class_loss_weight < 0:
            raise ConfigError(
                f"{where}.reconstruction_weight and class_loss_weight must be >= 0."
            )
        if self.freeze_d_layers < 0:
            raise ConfigError(
                f"{where}.freeze_d_layers must be >= 0, got {self.freeze_d_layers}."
            )

    def _check_augment(self, where: str) -> None:
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


@dataclass
class VAEConfig(ModelConfig):
    """A VAE (`type: vae`): architecture `conv` or `residual`.

    `kl_schedule` drives the KL weight: "constant" (1), "warmup" (0 -> 1
    over `kl_warmup_steps` steps) or "cyclical" (0 -> 1 over the first
    `kl_cycle_ratio` of every `kl_cycle_steps` steps); left out, it is
    "warmup" when `kl_warmup_steps` > 0, else "constant". `learned_sigma`
    ("global" or "channel") learns the Gaussian likelihood's standard
    deviation, starting at `gaussian_sigma`. `free_bits` floors each latent
    dimension's KL at that many nats. `denoising` trains on corrupted inputs
    with clean targets: a mapping with `noise` (gaussian, salt_pepper,
    mask), `sigma` (a number or [lo, hi]), `amount` and `mask_size`.
    """

    FAMILY: ClassVar[str] = "vae"
    ARCHITECTURES: ClassVar[tuple[str, ...]] = ("conv", "residual")
    # "dcgan" is the GAN default: a VAE config that named it means "conv".
    ARCHITECTURE_ALIASES: ClassVar[dict[str, str]] = {"dcgan": "conv"}

    type: Family = "vae"
    architecture: str = "conv"
    latent_dim: int = 100
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

    def validate(self, where: str) -> None:
        super().validate(where)
        self._check_latent_dim(where)
        if self.gaussian_sigma <= 0:
            raise ConfigError(f"{where}.gaussian_sigma must be > 0.")
        if self.beta < 0 or self.kl_warmup_steps < 0:
            raise ConfigError(f"{where}.beta and kl_warmup_steps must be >= 0.")
        if self.free_bits < 0:
            raise ConfigError(f"{where}.free_bits must be >= 0, got {self.free_bits}.")
        if self.learned_sigma is not None and self.likelihood != "gaussian":
            raise ConfigError(
                f"{where}.learned_sigma needs {where}.likelihood 'gaussian', "
                f"got {self.likelihood!r}."
            )
        self._check_kl_schedule(where)
        self.denoising = normalize_denoising(self.denoising, where)

    def _check_kl_schedule(self, where: str) -> None:
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


@dataclass
class DAEConfig(ModelConfig):
    """A denoising autoencoder (`type: dae`), fully convolutional.

    It denoises images of any size: `image_size` is the side of the training
    crops only. `width` filters, `depth` inner convolutions (per resolution
    for `architecture: unet`), `downsample` (a strided half-resolution
    middle instead of full resolution throughout), `residual` (predict the
    noise), `denoising` (default: blind Gaussian noise, sigma drawn in
    [0.02, 0.25] per image).
    """

    FAMILY: ClassVar[str] = "dae"
    ARCHITECTURES: ClassVar[tuple[str, ...]] = ("dcgan", "unet")
    ARCHITECTURE_NOTE: ClassVar[str] = " ('dcgan', the default: the plain stack)"

    type: Family = "dae"
    architecture: str = "dcgan"
    depth: int = 4
    downsample: bool = False
    residual: bool = True
    denoising: dict | None = None

    def validate(self, where: str) -> None:
        super().validate(where)
        _positive(self, where, "depth")
        if self.denoising is None:
            self.denoising = dict(DAE_DEFAULT_NOISE)
        self.denoising = normalize_denoising(self.denoising, where)


#: `model.type` -> its config class.
FAMILIES: dict[str, type[ModelConfig]] = {
    "gan": GANConfig,
    "vae": VAEConfig,
    "dae": DAEConfig,
}


def normalize_denoising(spec: dict | None, where: str) -> dict | None:
    """A `denoising` mapping with its defaults filled in (None stays None)."""
    if spec is None:
        return None
    from keras_gen.models.vae.corruption import normalize_spec

    try:
        return normalize_spec(spec)
    except ValueError as err:
        raise ConfigError(f"{where}.{err}") from None


def check_init_from(value: str | None, where: str) -> None:
    """`init_from` is null, `preset:NAME` or a path ending in `.keras`."""
    if value is None:
        return
    key = _join(where, "init_from")
    if value.startswith(PRESET_PREFIX):
        try:
            check_name(value[len(PRESET_PREFIX) :], "preset name")
        except ValueError as err:
            raise ConfigError(f"{key}: {err}.", key) from None
    elif Path(value).suffix != ".keras":
        raise ConfigError(
            f"{key}: {value!r} is neither {PRESET_PREFIX}NAME nor the path of "
            "a .keras model (e.g. runs/NAME/model.keras).",
            key,
        )


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def select_family(data: dict[str, Any], where: str) -> tuple[type, dict]:
    """The config class of `data["type"]`, and `data` without stale keys.

    A key of another family is dropped if it has that family's default value
    (older runs saved every family's keys); any other value fails, naming
    the key and its family. Unknown keys are kept, for the caller to refuse.
    """
    given = "type" in data
    kind = _convert(data.get("type", "gan"), Family, _join(where, "type"))
    family = FAMILIES[kind]
    own = set(field_names(family))
    kept = {}
    for key, value in data.items():
        owners = [f for f in FAMILIES.values() if key in field_names(f)]
        if key in own or not owners:
            kept[key] = value
        elif not any(_is_default(f, key, value) for f in owners):
            raise ConfigError(
                f"{_join(where, key)} is a "
                f"{' and '.join(f.FAMILY.upper() for f in owners)} key; this "
                f"config has {_join(where, 'type')}: {kind}"
                f"{'' if given else ' (the default)'}. Drop the key or change "
                f"{_join(where, 'type')}.",
                _join(where, key),
            )
    return family, kept


def _is_default(family: type, key: str, value: Any) -> bool:
    """`value` is `family`'s default for `key` (as written or as validated)."""
    return _same(value, getattr(family(), key)) or _same(
        value, getattr(_validated_default(family), key)
    )


@functools.cache
def _validated_default(family: type) -> ModelConfig:
    # E.g. kl_schedule null -> "constant": what older runs saved.
    config = family()
    config.validate("model")
    return config


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; a saved `downsample: 1` is not the default False.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


__all__ = [
    "AUTO_AUGMENT_BELOW",
    "AUTO_AUGMENT_POLICY",
    "DAE_DEFAULT_NOISE",
    "FAMILIES",
    "MAX_LATENT_DIM",
    "MAX_WIDTH",
    "PRESET_PREFIX",
    "DAEConfig",
    "GANConfig",
    "ModelConfig",
    "VAEConfig",
    "check_init_from",
    "select_family",
]
