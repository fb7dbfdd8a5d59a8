"""Start training from a trained model: `model.init_from` and FreezeD.

`initialize_from` copies the networks' weights of a preset or `.keras`
file into a freshly built model of the same architecture; the optimizer,
the ADA probability and the step counters start fresh, as fine-tuning on
new data should. `freeze_discriminator_layers` is FreezeD (Mo et al. 2020):
the first layers of the discriminator keep the pretrained features and only
the upper ones adapt, which fine-tunes a GAN on a few thousand images
without the discriminator overfitting them.

A conditional GAN can start from an unconditional one of the same
architecture (e.g. `rooms64_cgan` from `preset:bedroom_gan_64`): every
class's batch-norm scale and shift start as the source's, so each label
first draws what the source draws, and the class projection and class
head, which the source lacks, start fresh (as in Shahbazi et al. 2021's
transfer of an unconditional GAN to classes).

Example:
>>> model = build_model(config)  # doctest: +SKIP
>>> initialize_from(model, "preset:bedroom_gan_64")  # doctest: +SKIP
>>> freeze_discriminator_layers(model, 2)  # doctest: +SKIP
>>> compile_model(model, config)  # after freezing: the optimizer sees only the rest
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_gen.config import ConfigError

#: The network attributes of GAN, VAE and DenoisingAutoencoder.
NETWORKS = (
    "generator",
    "discriminator",
    "ema_generator",
    "encoder",
    "decoder",
    "network",
)


def _networks(model: Any) -> dict[str, Any]:
    return {
        n: getattr(model, n) for n in NETWORKS if getattr(model, n, None) is not None
    }


def _source_network(source: dict[str, Any], name: str) -> Any:
    # A source without an EMA generator gives its generator to both.
    if name == "ema_generator" and name not in source:
        return source.get("generator")
    return source.get(name)


def _check_shapes(name: str, target: Any, weights: list, where: str) -> None:
    shapes = [tuple(v.shape) for v in target.weights]
    given = [tuple(w.shape) for w in weights]
    if len(shapes) != len(given):
        raise ConfigError(
            f"{where}: the {name} has {len(given)} weights in the source and "
            f"{len(shapes)} here: not the same architecture (compare "
            "architecture, width, image_size, latent_dim and data.labels with "
            "the source's config)"
        )
    for var, have, want in zip(target.weights, given, shapes):
        if have != want:
            raise ConfigError(
                f"{where}: {name} weight {var.path} is {have} in the source and "
                f"{want} here: not the same architecture (compare architecture, "
                "width, image_size, latent_dim and data.labels with the source's "
                "config)"
            )


def initialize_from(
    model: Any, source: str, where: str = "model.init_from"
) -> list[str]:
    """Copy the network weights of `source` (`preset:NAME` or `.keras`) into `model`.

    Returns:
        The names of the networks copied.

    Raises:
        ConfigError: the source is another kind of model or its networks
            have other shapes (the weight and both shapes are named).
    """
    from keras_gen.inference import describe, load_keras

    loaded = load_keras(source, compile=False)
    if type(loaded).__name__ != type(model).__name__:
        raise ConfigError(
            f"{where}: {source} holds {describe(loaded)}; this config trains a "
            f"{type(model).__name__}"
        )
    have = _networks(loaded)
    widen = bool(getattr(model, "num_classes", None)) and not getattr(
        loaded, "num_classes", None
    )
    copied = []
    for name, target in _networks(model).items():
        net = _source_network(have, name)
        if net is None:
            continue
        if widen:
            fresh = _copy_to_conditional(name, target, net, where)
            copied.append(f"{name} (per class; new: {', '.join(fresh) or 'none'})")
            continue
        weights = net.get_weights()
        _check_shapes(name, target, weights, where)
        target.set_weights(weights)
        copied.append(name)
    return copied


def _copy_to_conditional(name: str, target: Any, source: Any, where: str) -> list:
    """Copy an unconditional network into its conditional twin, layer by layer.

    Layers pair by name (a spectral-norm wrapper by its wrapped layer's: the
    wrappers' own names are numbered in build order). A target layer the
    source lacks is one the condition adds (the class projection, the class
    head) and stays fresh.

    Returns:
        The names of the target's layers left fresh.
    """
    from keras_gen.models.gan.layers import ConditionalBatchNormalization

    given = {_key(layer): layer for layer in source.layers if layer.weights}
    fresh = []
    for layer in (x for x in target.layers if x.weights):
        twin = given.pop(_key(layer), None)
        if twin is None:
            fresh.append(layer.name)
        elif isinstance(layer, ConditionalBatchNormalization):
            _per_class_norm(layer, twin)
        else:
            label = f"{name} layer {_key(layer)}"
            _check_shapes(label, layer, twin.get_weights(), where)
            layer.set_weights(twin.get_weights())
    if given:
        raise ConfigError(
            f"{where}: the source's {name} has layers {sorted(given)} that this "
            "model lacks: not the same architecture (compare architecture, width, "
            "image_size and latent_dim with the source's config)"
        )
    return fresh


def _key(layer: Any) -> str:
    inner = getattr(layer, "layer", None)
    return inner.name if isinstance(inner, keras.layers.Layer) else layer.name


def _per_class_norm(layer: Any, given: Any) -> None:
    """Every class's scale and shift, and the moving statistics, from a batch norm."""
    classes = layer.num_classes
    layer.gamma.assign(np.tile(given.gamma.numpy()[None], (classes, 1)))
    layer.beta.assign(np.tile(given.beta.numpy()[None], (classes, 1)))
    layer.batch_norm.moving_mean.assign(given.moving_mean.numpy())
    layer.batch_norm.moving_variance.assign(given.moving_variance.numpy())


def freeze_discriminator_layers(model: Any, count: int) -> list[str]:
    """FreezeD: make the first `count` weighted layers of the discriminator untrainable.

    Call before compiling, so that the optimizer is built for the others.

    Returns:
        The names of the frozen layers.
    """
    if count <= 0:
        return []
    if getattr(model, "discriminator", None) is None:
        raise ConfigError("model.freeze_d_layers applies to GANs only")
    layers = [layer for layer in model.discriminator.layers if layer.weights]
    if count >= len(layers):
        raise ConfigError(
            f"model.freeze_d_layers: {count} would freeze every layer of the "
            f"discriminator ({len(layers)} with weights); use fewer"
        )
    for layer in layers[:count]:
        layer.trainable = False
    return [layer.name for layer in layers[:count]]
