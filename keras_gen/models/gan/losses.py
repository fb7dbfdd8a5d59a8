"""GAN losses as pure functions of the discriminator's logits.

Every function returns a per-example loss of shape `[batch]`; the model reduces
it over the global batch (see `keras_gen.models.distributed`). A loss is chosen
by name with `get_gan_loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from keras import ops


def _flat(logits):
    logits = ops.cast(logits, "float32")
    return ops.reshape(logits, (ops.shape(logits)[0], -1))


def _per_example_mean(values):
    return ops.mean(_flat(values), axis=1)


# Non-saturating loss (Goodfellow et al. 2014, as used by DCGAN): the
# discriminator is a logistic classifier, the generator maximises log D(G(z)).
def ns_discriminator_loss(real_logits, fake_logits):
    """-log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))), per example."""
    return _per_example_mean(ops.softplus(-_flat(real_logits))) + _per_example_mean(
        ops.softplus(_flat(fake_logits))
    )


def ns_generator_loss(fake_logits):
    """-log sigmoid(D(G(z))), per example."""
    return _per_example_mean(ops.softplus(-_flat(fake_logits)))


# Hinge loss (Lim & Ye 2017; Miyato et al. 2018, used with spectral norm).
def hinge_discriminator_loss(real_logits, fake_logits):
    """relu(1 - D(x)) + relu(1 + D(G(z))), per example."""
    return _per_example_mean(ops.relu(1.0 - _flat(real_logits))) + _per_example_mean(
        ops.relu(1.0 + _flat(fake_logits))
    )


def hinge_generator_loss(fake_logits):
    """-D(G(z)), per example."""
    return -_per_example_mean(fake_logits)


# Least-squares GAN (Mao et al. 2017) with targets real=1, fake=0.
def lsgan_discriminator_loss(real_logits, fake_logits):
    """0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2, per example."""
    return 0.5 * _per_example_mean(ops.square(_flat(real_logits) - 1.0)) + 0.5 * (
        _per_example_mean(ops.square(_flat(fake_logits)))
    )


def lsgan_generator_loss(fake_logits):
    """0.5 (D(G(z)) - 1)^2, per example."""
    return 0.5 * _per_example_mean(ops.square(_flat(fake_logits) - 1.0))


# Wasserstein loss (Arjovsky et al. 2017); the gradient penalty of WGAN-GP is
# added by the model, since it needs the critic itself, not only its logits.
def wasserstein_discriminator_loss(real_logits, fake_logits):
    """D(G(z)) - D(x), per example."""
    return _per_example_mean(fake_logits) - _per_example_mean(real_logits)


def wasserstein_generator_loss(fake_logits):
    """-D(G(z)), per example."""
    return -_per_example_mean(fake_logits)


class GANLoss(NamedTuple):
    """A pair of per-example loss functions and how to read the logits."""

    discriminator: Callable
    generator: Callable
    # True when sigmoid(logit) is a probability of "real" (logistic losses);
    # the model then reports D's mean output as a probability like DCGAN.
    probabilistic: bool
    gradient_penalty: bool = False


GAN_LOSSES: dict[str, GANLoss] = {
    "ns": GANLoss(ns_discriminator_loss, ns_generator_loss, True),
    "hinge": GANLoss(hinge_discriminator_loss, hinge_generator_loss, False),
    "lsgan": GANLoss(lsgan_discriminator_loss, lsgan_generator_loss, False),
    "wgan-gp": GANLoss(
        wasserstein_discriminator_loss,
        wasserstein_generator_loss,
        False,
        gradient_penalty=True,
    ),
}


def get_gan_loss(name: str) -> GANLoss:
    """The loss pair registered under `name`.

    Raises:
        ValueError: if `name` is not one of `GAN_LOSSES`, listing the valid names.
    """
    try:
        return GAN_LOSSES[name]
    except KeyError:
        raise ValueError(
            f"Unknown GAN loss {name!r}. Valid names: {', '.join(sorted(GAN_LOSSES))}."
        ) from None
