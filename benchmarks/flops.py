"""FLOPs of one train step, counted from the layers of Keras functional models.

Counting rule (stated once, used everywhere):

- a multiply-accumulate (MAC) is 2 FLOPs; only convolutions, transposed
  convolutions and dense layers are counted (batch norm, activations, losses
  and the optimizer update are elementwise and below 1% of the total here);
- Conv2D: out_h * out_w * k_h * k_w * c_in * c_out MACs per image;
  Conv2DTranspose: in_h * in_w * k_h * k_w * c_in * c_out (every input pixel
  scatters one kernel); Dense: n_in * n_out;
- a backward pass that needs gradients for both the weights and the inputs
  costs 2x the forward; one that needs the input gradients only (the
  discriminator during the generator update) costs 1x.

DCGAN step (generator G, discriminator D, forward FLOPs G_f and D_f):
G forward + backward = 3 G_f; D on real and fake, forward + backward = 6 D_f;
D forward on the fake batch for the generator update + input gradients = 2 D_f;
total 3 G_f + 8 D_f. VAE step: 3 (E_f + Dec_f).
"""

from __future__ import annotations

import math

import keras


def _per_image(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in shape[1:])


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-accumulates of one layer for one image (0 if not counted)."""
    inner = layer
    if isinstance(layer, keras.layers.SpectralNormalization):
        inner = layer.layer
    if not isinstance(inner, _COUNTED):
        return 0
    return _macs(inner, layer.input.shape, layer.output.shape)


_COUNTED = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense)


def _macs(layer, in_shape, out_shape) -> int:
    if isinstance(layer, keras.layers.Conv2DTranspose):
        h, w, c_in = _per_image(in_shape)
        k_h, k_w = layer.kernel_size
        return h * w * k_h * k_w * c_in * layer.filters
    if isinstance(layer, keras.layers.Conv2D):
        h, w, _ = _per_image(out_shape)
        c_in = _per_image(in_shape)[-1]
        k_h, k_w = layer.kernel_size
        return h * w * k_h * k_w * (c_in // layer.groups) * layer.filters
    if isinstance(layer, keras.layers.Dense):
        # Dense on a [batch, ..., n_in] tensor applies once per leading position.
        positions = math.prod(_per_image(in_shape)[:-1])
        return positions * int(in_shape[-1]) * layer.units
    return 0


def model_macs(model: keras.Model) -> int:
    """Forward multiply-accumulates of `model` for one image."""
    return sum(layer_macs(layer) for layer in model.layers)


def forward_flops(model: keras.Model) -> int:
    """Forward FLOPs of `model` for one image (2 per MAC)."""
    return 2 * model_macs(model)


def gan_step_flops(generator: keras.Model, discriminator: keras.Model) -> int:
    """FLOPs of one DCGAN train step per image (see the module's rule)."""
    return 3 * forward_flops(generator) + 8 * forward_flops(discriminator)


def vae_step_flops(encoder: keras.Model, decoder: keras.Model) -> int:
    """FLOPs of one VAE train step per image (see the module's rule)."""
    return 3 * (forward_flops(encoder) + forward_flops(decoder))
