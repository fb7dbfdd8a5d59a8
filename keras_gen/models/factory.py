"""Models from a config: one registry per family, one builder per family.

A new GAN architecture is one entry in `GAN_ARCHITECTURES` (a generator and a
discriminator builder with the common signatures below); a VAE architecture
one in `keras_gen.models.vae.networks.VAE_ARCHITECTURES`.

- generator builders: `(image_size, latent_dim, width, *, synchronized_bn,
  num_classes, seed) -> keras.Model`;
- discriminator builders: `(image_size, width, *, synchronized_bn,
  spectral_norm, num_classes, seed) -> keras.Model`.

Example:
>>> from keras_gen.config import load_config
>>> cfg = load_config("training/configs/smoke_gan.yaml")
>>> gan = build_model(cfg)
>>> compile_model(gan, cfg)
>>> type(gan).__name__
'GAN'
"""

from __future__ import annotations

from typing import Any

import keras

from keras_gen.config import (
    AUTO_AUGMENT_BELOW,
    AUTO_AUGMENT_POLICY,
    Config,
    ConfigError,
    OptimizerConfig,
    TrainConfig,
)
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.gan.fastgan import (
    build_fastgan_discriminator,
    build_fastgan_generator,
)
from keras_gen.models.gan.gan import GAN
from keras_gen.models.gan.resnet import (
    build_resnet_discriminator,
    build_resnet_generator,
)
from keras_gen.models.vae.dae import (
    DenoisingAutoencoder,
    build_dae_network,
    build_dae_unet,
)
from keras_gen.models.vae.networks import VAE_ARCHITECTURES
from keras_gen.models.vae.vae import VAE
from keras_gen.precision import dtype_policy, resolve_precision

#: `model.architecture` of a GAN -> (generator builder, discriminator builder).
GAN_ARCHITECTURES = {
    "dcgan": (build_dcgan_generator, build_dcgan_discriminator),
    "resnet": (build_resnet_generator, build_resnet_discriminator),
    "fastgan": (build_fastgan_generator, build_fastgan_discriminator),
}


def make_optimizer(
    cfg: OptimizerConfig, total_steps: int | None = None
) -> keras.optimizers.Optimizer:
    """A Keras optimizer from its config.

    `total_steps` (the run's optimizer steps) is the cosine schedule's
    length when `cfg.decay_steps` is null.
    """
    lr = learning_rate(cfg, total_steps)
    if cfg.name == "adam":
        return keras.optimizers.Adam(lr, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
    if cfg.name == "adamw":
        return keras.optimizers.AdamW(
            lr,
            weight_decay=cfg.weight_decay or 0.004,
            beta_1=cfg.beta_1,
            beta_2=cfg.beta_2,
        )
    if cfg.name == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    return keras.optimizers.SGD(lr)


def learning_rate(cfg: OptimizerConfig, total_steps: int | None = None) -> Any:
    """The configured rate: a float, or Keras' `CosineDecay` schedule."""
    if cfg.schedule == "constant":
        return cfg.learning_rate
    steps = cfg.decay_steps or total_steps
    if not steps:
        raise ConfigError(
            "a cosine learning-rate schedule needs decay_steps, or the run's "
            "length (train.epochs x steps per epoch) to default to."
        )
    return keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=int(steps), alpha=cfg.alpha
    )


def resolve_augment(config: Config) -> str | None:
    """The DiffAugment policy of a GAN config, deciding `augment: auto`."""
    from keras_gen.data.factory import count_images

    augment = config.model.augment
    if augment != "auto":
        return augment
    count = count_images(config.data)
    if count is not None and count < AUTO_AUGMENT_BELOW:
        return AUTO_AUGMENT_POLICY
    return None


def build_model(
    config: Config,
    synchronized_bn: bool = False,
    class_names: list[str] | None = None,
) -> Any:
    """An uncompiled `GAN`, `VAE` or `DenoisingAutoencoder` as the config says.

    Layers take the dtype policy of `train.precision`; the networks keep
    their last layers (tanh, logits, posterior heads) and every loss in
    float32. `class_names` makes a conditional model (see
    `keras_gen.data.factory.class_names_of`).
    """
    builders = {"gan": _build_gan, "vae": _build_vae, "dae": _build_dae}
    with dtype_policy(resolve_precision(config.train.precision)):
        return builders[config.model.type](config, synchronized_bn, class_names)


def _build_gan(config: Config, synchronized_bn: bool, class_names) -> GAN:
    m = config.model
    num_classes = len(class_names) if class_names else None
    build_g, build_d = GAN_ARCHITECTURES[m.architecture]
    generator = build_g(
        m.image_size,
        m.latent_dim,
        m.width,
        synchronized_bn=synchronized_bn,
        num_classes=num_classes,
        seed=m.seed,
    )
    if m.class_loss_weight > 0 and not num_classes:
        raise ConfigError(
            "model.class_loss_weight > 0 (the AC-GAN class head) needs a "
            "conditional GAN: set data.labels."
        )
    discriminator = build_d(
        m.image_size,
        m.width,
        synchronized_bn=synchronized_bn,
        spectral_norm=m.spectral_norm,
        num_classes=num_classes,
        seed=None if m.seed is None else m.seed + 1,
        class_head=m.class_loss_weight > 0,
    )
    return GAN(
        generator,
        discriminator,
        loss=m.loss,
        gradient_penalty_weight=m.gradient_penalty_weight,
        ema_decay=m.ema_decay,
        augment=resolve_augment(config),
        augment_p=m.augment_p,
        ada_target=m.ada_target,
        ada_interval=m.ada_interval,
        ada_speed_kimg=m.ada_speed_kimg,
        r1_gamma=m.r1_gamma,
        n_critic=m.n_critic,
        reconstruction_weight=m.reconstruction_weight,
        class_loss_weight=m.class_loss_weight,
        class_names=class_names,
        seed=m.seed,
    )


def _build_vae(config: Config, synchronized_bn: bool, class_names) -> VAE:
    del synchronized_bn  # the VAE networks have no batch norm
    m = config.model
    build_encoder, build_decoder = VAE_ARCHITECTURES[m.architecture]
    num_classes = len(class_names) if class_names else None
    return VAE(
        build_encoder(m.image_size, m.latent_dim, m.width, num_classes=num_classes),
        build_decoder(m.image_size, m.latent_dim, m.width, num_classes=num_classes),
        beta=m.beta,
        likelihood=m.likelihood,
        gaussian_sigma=m.gaussian_sigma,
        learned_sigma=m.learned_sigma,
        free_bits=m.free_bits,
        denoising=m.denoising,
        class_names=class_names,
        seed=m.seed,
    )


def _build_dae(config: Config, synchronized_bn: bool, class_names):
    del synchronized_bn  # no batch norm
    m = config.model
    if class_names:
        raise ConfigError("model.type 'dae' is not conditional; drop data.labels.")
    if m.architecture == "unet":
        network = build_dae_unet(m.width, m.depth)
    else:
        network = build_dae_network(m.width, m.depth, downsample=m.downsample)
    return DenoisingAutoencoder(network, m.denoising, m.residual, seed=m.seed)


def schedule_steps(config: Config, data_batch: int) -> int | None:
    """Steps of the whole run when a cosine schedule needs its length, else None.

    `data_batch`: images one training step reads (the global batch times
    `n_critic` for WGAN-GP).
    """
    from keras_gen.data.factory import count_images

    t = config.train
    optimizers = [o for o in (t.optimizer, t.d_optimizer, t.g_optimizer) if o]
    if all(o.schedule == "constant" or o.decay_steps for o in optimizers):
        return None
    per_epoch = steps_per_epoch(t, count_images(config.data) or 0, data_batch)
    return t.epochs * per_epoch or None


def step_images(config: Config, global_batch: int) -> int:
    """Images one training step reads: WGAN-GP's n_critic updates each take a batch."""
    n_critic = config.model.n_critic if config.model.type == "gan" else 1
    return global_batch * n_critic


def steps_per_epoch(train: TrainConfig, count: int, data_batch: int) -> int:
    """`train.steps_per_epoch`, or one pass over `count` images by default."""
    return train.steps_per_epoch or count // data_batch


def compile_model(model: Any, config: Config, total_steps: int | None = None) -> None:
    """Compile with the configured optimizers (call inside the strategy scope).

    `total_steps`: optimizer steps of the whole run, the length of a cosine
    schedule without `decay_steps`.
    """
    t = config.train
    kwargs: dict[str, Any] = {
        "steps_per_execution": t.steps_per_execution,
        "jit_compile": t.jit_compile,
    }

    def optimizer(cfg: OptimizerConfig, updates: int = 1) -> keras.optimizers.Optimizer:
        opt = make_optimizer(cfg, total_steps and total_steps * updates)
        # float16 gradients underflow without loss scaling; bfloat16 has
        # float32's exponent range and needs none.
        if resolve_precision(t.precision) == "mixed_float16":
            opt = keras.optimizers.LossScaleOptimizer(opt)
        return opt

    if isinstance(model, GAN):
        model.compile(
            d_optimizer=optimizer(t.d_optimizer or t.optimizer, model.n_critic),
            g_optimizer=optimizer(t.g_optimizer or t.optimizer),
            **kwargs,
        )
    else:
        model.compile(optimizer=optimizer(t.optimizer), **kwargs)


__all__ = [
    "GAN_ARCHITECTURES",
    "build_model",
    "compile_model",
    "learning_rate",
    "make_optimizer",
    "resolve_augment",
    "schedule_steps",
    "step_images",
    "steps_per_epoch",
]
