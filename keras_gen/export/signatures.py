"""SavedModel signatures of an exported model: the graphs TF Serving runs.

Signatures (the public contract; every input and output is named, every
output has the batch as its first dimension):

GAN (the EMA generator if the model has `ema_generator`, else `generator`):

- `serving_default`: `z` float32 `[None, latent_dim]` -> `images` uint8
  `[None, H, W, 3]`.
- `generate`: `seed` int64 `[None]` -> `images` uint8 `[None, H, W, 3]`: one
  image per seed, the same image for the same seed on every call (stateless
  latents, identical to `GenerativeModel.generate(seed=...)`).
- `generate_png`: `seed` int64 `[None]` -> `png_bytes` string `[None]`, PNG
  files. The `_bytes` suffix is what makes TF Serving's REST API return them
  base64-encoded as `{"b64": ...}` (TF Serving's json_tensor.cc; an output
  named `png` would be written as raw bytes into a JSON string).
- A conditional model (`model.num_classes` set, generator called on
  `[z, label]`) adds `label` int64 `[None]` to these three (class ids,
  checked to be in `[0, num_classes)`, one per row). The class name of each
  id is in `<version>/assets.extra/keras_gen_classes.json`
  (`{"class_names": [...]}`, see `read_class_names`). Conditional VAEs are
  not supported yet.

VAE (decoder for the generating signatures, encoder for the others):

- `serving_default` and `decode`: `z` -> `images`, as above.
- `generate`, `generate_png`: as for the GAN.
- `encode`: `images` uint8 `[None, None, None, None]` -> `z_mean`,
  `z_log_var` float32 `[None, latent_dim]`.
- `reconstruct`: `images` -> `images` uint8 `[None, H, W, 3]`, decoded from
  the posterior mean.
- `denoise`: same inputs and outputs as `reconstruct`; only exported when the
  model says it was trained for it (`model.denoising` is true).
- `anomaly_score`: `images` -> `score` float32 `[None]`, the negative ELBO in
  nats per image (reconstruction negative log-likelihood of the model's
  likelihood at the posterior mean, plus the KL to the prior, beta = 1), and
  `is_anomaly` bool `[None]` (`score > threshold`) only when a threshold was
  given at export.

DAE (`type: dae`, a fully convolutional denoising autoencoder):

- `serving_default` and `denoise`: `images` uint8 `[None, H, W, 3]` of any
  size (up to the pixel limit) -> `images` uint8 of the same size, denoised
  in one pass (the model mirror-pads sides to its stride multiple and
  crops back).

Every signature computes in float32, also for a model trained with mixed
precision (its float32 weights are used as they are): a bfloat16 graph runs
slowly, or not at all, on a CPU without bfloat16 instructions
(`benchmarks/bf16_isa.py`). `keep_precision=True` (`keras-gen export
--keep-precision`) keeps the trained policy, for servers known to have them.

Image inputs are uint8 RGB of any size: the shorter side is resized to the
model size (antialiased bilinear, up or down) and centre-cropped, as the
training pipeline does (`keras_gen.data.pipeline.resize_and_center_crop`).

Bad requests get an INVALID_ARGUMENT status with a readable message, from
the graph itself (TF Serving does not check shapes against the signature):
a wrong dtype fails at the signature's input, a wrong shape at an
`EnsureShape` ("Shape of tensor z [1,17] is not compatible with expected
shape [?,16]"), a channel count other than 3 at an assertion that says so.
Every signature takes an empty batch. `serving_default` has no random ops
and no control flow, so tf2onnx and the TFLite converter handle it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_gen.data.pipeline import MAX_PIXELS, resize_and_center_crop
from keras_gen.models.base import GenerativeModel, latents_from_seeds
from keras_gen.models.vae.vae import kl_divergence, reconstruction_nll
from keras_gen.precision import float32_compute

__all__ = [
    "DAE_SIGNATURES",
    "GAN_SIGNATURES",
    "MAX_BATCH",
    "SIGNATURES",
    "VAE_SIGNATURES",
    "build_export_archive",
    "checked_input",
    "signature_names",
]

GAN_SIGNATURES = ("serving_default", "generate", "generate_png")
VAE_SIGNATURES = (
    "serving_default",
    "decode",
    "generate",
    "generate_png",
    "encode",
    "reconstruct",
    "anomaly_score",
)
DAE_SIGNATURES = ("serving_default", "denoise")
# Kept for callers of the first version of this module.
SIGNATURES = GAN_SIGNATURES
#: Default largest batch of one request to an exported model.
MAX_BATCH = 1024


# ------------------------------------------------------ inputs and outputs
def _to_uint8(images: tf.Tensor, value_range: tuple[float, float]) -> tf.Tensor:
    low, high = value_range
    images = (tf.cast(images, tf.float32) - low) * (255.0 / (high - low))
    return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)


def _resize_and_center_crop(images: tf.Tensor, size: int) -> tf.Tensor:
    """The training pipeline's resize and centre crop, batched, for requests.

    Float `[N, h, w, C]` in [0, 255] -> `[N, size, size, C]`: shorter side to
    `size` (antialiased bilinear), centre crop: the same function as the
    training data (`keras_gen.data.pipeline.resize_and_center_crop`), so
    served images are prepared like training images; requests over
    `MAX_PIXELS` are refused first.
    """
    shape = tf.shape(images, out_type=tf.int64)
    # Refused, not resized: a request could otherwise take the server down.
    tf.debugging.assert_less_equal(
        shape[1] * shape[2],
        tf.constant(MAX_PIXELS, tf.int64),
        message=f"images over {MAX_PIXELS:,} pixels are refused",
    )
    return resize_and_center_crop(images, size)


def _prepare_images(
    images: tf.Tensor, size: int, value_range: tuple[float, float]
) -> tf.Tensor:
    """uint8 `[N, h, w, 3]` of any size -> float `[N, size, size, 3]` in range.

    The checks run inside the graph, so a bad request to a model server gets
    an INVALID_ARGUMENT status with this text instead of a shape error from
    deep inside the network (or worse, a silently wrong answer).
    """
    # EnsureShape runs on the actual tensor: TF Serving, unlike a Python
    # call, does not check requests against the signature's shapes.
    images = tf.ensure_shape(images, (None, None, None, None))
    shape = tf.shape(images)
    checks = [
        tf.debugging.assert_equal(
            shape[3],
            3,
            message="images must be uint8 RGB [batch, height, width, 3]; "
            "the channel count (last dimension) is not 3",
        ),
        tf.debugging.assert_positive(
            shape[1:3], message="images must be at least 1x1 pixels"
        ),
    ]
    with tf.control_dependencies(checks):
        x = tf.cast(images, tf.float32)
    same_size = tf.logical_and(tf.equal(shape[1], size), tf.equal(shape[2], size))
    # Images already at the model size skip the resize, so they reach the
    # network bit-identical to what `model.encode(images / 255)` sees.
    x = tf.cond(same_size, lambda: x, lambda: _resize_and_center_crop(x, size))
    x = tf.ensure_shape(x, (None, size, size, 3))
    low, high = value_range
    return x * ((high - low) / 255.0) + low


def _check_labels(label: tf.Tensor, batch: tf.Tensor, num_classes: int) -> tf.Tensor:
    checks = [
        tf.debugging.assert_equal(
            tf.shape(label)[0],
            batch,
            message="label must hold one class id per z row / seed",
        ),
        tf.debugging.assert_non_negative(label, message="label must be >= 0"),
        tf.debugging.assert_less(
            label,
            tf.constant(num_classes, tf.int64),
            message=f"label must be < num_classes ({num_classes})",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(label)


def _on_any_batch(fn: Callable[..., Any], *inputs: tf.Tensor) -> Any:
    """`fn(*inputs)` for any batch size, including 0.

    TF's CPU Conv2D kernels reject a batch of zero images ("input depth must
    be evenly divisible by filter depth"), so an empty batch gets one dummy
    row (zero rows otherwise: other batches run unchanged) and the outputs
    are cut back to the real batch. Padding instead of `tf.cond` keeps the
    graph convertible by tf2onnx, which fails on networks inside a cond.
    """
    n = tf.shape(inputs[0])[0]
    pad = tf.cast(tf.equal(n, 0), tf.int32)
    padded = [
        tf.concat([x, tf.zeros(tf.concat([[pad], tf.shape(x)[1:]], 0), x.dtype)], 0)
        for x in inputs
    ]
    return tf.nest.map_structure(lambda t: t[:n], fn(*padded))


def _encode_png(images: tf.Tensor) -> tf.Tensor:
    return tf.map_fn(
        tf.io.encode_png, images, fn_output_signature=tf.TensorSpec((), tf.string)
    )


def _is_vae(model: Any) -> bool:
    return hasattr(model, "encoder") and hasattr(model, "decoder")


def _is_dae(model: Any) -> bool:
    return hasattr(model, "network") and hasattr(model, "denoise")


def _denoiser_archive(
    model: Any, keep_precision: bool, max_batch: int
) -> keras.export.ExportArchive:
    """The archive of a `DenoisingAutoencoder`: `denoise` at any image size."""
    spec = tf.TensorSpec((None, None, None, None), tf.uint8, name="images")

    def denoise(images):
        images = tf.ensure_shape(checked_input(images, max_batch), (None,) * 4)
        shape = tf.shape(images)
        checks = [
            tf.debugging.assert_equal(
                shape[3], 3, message="images must be uint8 RGB [batch, h, w, 3]"
            ),
            tf.debugging.assert_less_equal(
                tf.cast(shape[1], tf.int64) * tf.cast(shape[2], tf.int64),
                tf.constant(MAX_PIXELS, tf.int64),
                message=f"images over {MAX_PIXELS:,} pixels are refused",
            ),
        ]
        with tf.control_dependencies(checks):
            x = tf.cast(images, tf.float32) / 255.0
        # Any size: the model mirror-pads to its stride multiple and crops back.

        def run(x):
            scope = contextlib.nullcontext()
            if not keep_precision:
                scope = float32_compute(model.network)
            with scope:
                return model.denoise(x)

        out = _on_any_batch(run, x)
        return {"images": _to_uint8(out, (0.0, 1.0))}

    archive = keras.export.ExportArchive()
    archive.add_endpoint("serving_default", denoise, [spec])
    archive.add_endpoint("denoise", denoise, [spec])
    return archive


def _input_image_size(encoder: keras.Model) -> int:
    height, width = encoder.inputs[0].shape[1:3]
    if height is None or height != width:
        raise ValueError(f"square images expected, the encoder takes {height}x{width}")
    return int(height)


def signature_names(
    model: GenerativeModel, anomaly_threshold: float | None = None
) -> tuple[str, ...]:
    """The signatures `export_generator` writes for `model`.

    Args:
        model: a `GAN` or `VAE`.
        anomaly_threshold: only documents the call; the set of signatures does
            not depend on it (it adds the `is_anomaly` output).

    Returns:
        Signature names, `serving_default` first.
    """
    del anomaly_threshold
    if _is_dae(model):
        return DAE_SIGNATURES
    if not _is_vae(model):
        return GAN_SIGNATURES
    names = list(VAE_SIGNATURES)
    if getattr(model, "denoising", False):
        names.insert(names.index("anomaly_score"), "denoise")
    return tuple(names)


def checked_input(batch: tf.Tensor, max_batch: int) -> tf.Tensor:
    """`batch` if it has at most `max_batch` rows and no NaN/inf, else INVALID_ARGUMENT.

    One request must not be able to take a server's memory (20,000 seeds
    took 10.8 GB), and a NaN latent would come back as a flat grey image.
    """
    tf.debugging.assert_less_equal(
        tf.shape(batch, out_type=tf.int64)[0],
        tf.constant(max_batch, tf.int64),
        message=f"at most {max_batch} inputs per request (the export's max_batch)",
    )
    if batch.dtype.is_floating:
        batch = tf.debugging.assert_all_finite(batch, "inputs must be finite")
    return batch


# ------------------------------------------------------------ GAN and VAE
@dataclass(frozen=True)
class _Networks:
    """What the signatures of a GAN or VAE compute with.

    Attributes:
        network: the network that decodes latents: the GAN's EMA generator
            (else its generator), or the VAE's decoder.
        encoder: the VAE's encoder; None for a GAN.
        latent_dim: size of a latent vector.
        value_range: the model's pixel range.
        num_classes: classes of a conditional model, else None.
        keep_precision: compute in the trained precision, not float32.
    """

    network: Any
    encoder: Any
    latent_dim: int
    value_range: tuple[float, float]
    num_classes: int | None
    keep_precision: bool

    @classmethod
    def of(cls, model: GenerativeModel, keep_precision: bool) -> _Networks:
        latent_dim = int(model.latent_dim)
        value_range = tuple(float(v) for v in model.value_range)
        is_vae = _is_vae(model)
        if is_vae:
            network = model.decoder
        else:
            # EMA weights give better samples; fall back to the raw generator.
            network = getattr(model, "ema_generator", None)
            if network is None:
                network = model.generator
        num_classes = getattr(model, "num_classes", None)
        if num_classes is not None and is_vae:
            raise NotImplementedError("conditional VAEs cannot be exported yet")
        encoder = model.encoder if is_vae else None
        return cls(
            network, encoder, latent_dim, value_range, num_classes, keep_precision
        )

    @property
    def is_vae(self) -> bool:
        return self.encoder is not None

    def computing(self) -> contextlib.AbstractContextManager:
        # Entered while a signature is traced (at write_out), so the graph
        # holds float32 ops; the model's own policies are restored after.
        if self.keep_precision:
            return contextlib.nullcontext()
        networks = [self.network] + ([self.encoder] if self.is_vae else [])
        return float32_compute(*networks)

    def decode(self, z: tf.Tensor, label: tf.Tensor | None) -> tf.Tensor:
        """Latents (and class ids) -> uint8 images, checked and batch-safe."""
        # A clear "Shape of tensor z [1,17] is not compatible with expected
        # shape [?,16]" instead of a reshape error deep in the network.
        z = tf.ensure_shape(z, (None, self.latent_dim))
        if label is not None:
            label = tf.ensure_shape(label, (None,))
            label = _check_labels(label, tf.shape(z)[0], int(self.num_classes))

        def run(z: tf.Tensor, *label: tf.Tensor) -> tf.Tensor:
            with self.computing():
                out = self.network([z, *label] if label else z, training=False)
            if self.is_vae:
                out = tf.sigmoid(out)
            return _to_uint8(out, self.value_range)

        return _on_any_batch(run, z) if label is None else _on_any_batch(run, z, label)


def _add_generating(
    archive: keras.export.ExportArchive, parts: _Networks, max_batch: int
) -> None:
    """`serving_default`, (VAE) `decode`, `generate` and `generate_png`."""
    z_spec = tf.TensorSpec((None, parts.latent_dim), tf.float32, name="z")
    seed_spec = tf.TensorSpec((None,), tf.int64, name="seed")
    label_spec = tf.TensorSpec((None,), tf.int64, name="label")
    conditional = parts.num_classes is not None

    def from_z(z, label=None):
        return {"images": parts.decode(z, label)}

    def from_seed(seed, label=None):
        seed = tf.ensure_shape(seed, (None,))
        z = latents_from_seeds(seed, parts.latent_dim)
        return {"images": parts.decode(z, label)}

    def png_from_seed(seed, label=None):
        return {"png_bytes": _encode_png(from_seed(seed, label)["images"])}

    def add(name: str, fn: Callable, specs: list[tf.TensorSpec]) -> None:
        # tf.function needs one positional parameter per spec, hence the
        # explicit two-argument wrapper for conditional models.
        if conditional:
            specs = [*specs, label_spec]
            archive.add_endpoint(
                name, lambda x, label: fn(checked_input(x, max_batch), label), specs
            )
        else:
            archive.add_endpoint(name, lambda x: fn(checked_input(x, max_batch)), specs)

    add("serving_default", from_z, [z_spec])
    if parts.is_vae:
        add("decode", from_z, [z_spec])
    add("generate", from_seed, [seed_spec])
    add("generate_png", png_from_seed, [seed_spec])


def _anomaly_score_fn(
    model: Any, parts: _Networks, size: int, anomaly_threshold: float | None
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """The `anomaly_score` signature: negative ELBO (nats), `is_anomaly`."""
    likelihood = getattr(model, "likelihood", "bernoulli")
    # A learned sigma (global or per channel) is frozen at its trained value.
    sigma = (
        np.asarray(model.sigma(), dtype=np.float32)
        if hasattr(model, "sigma")
        else float(getattr(model, "gaussian_sigma", 0.1))
    )

    def anomaly_score(images):
        def run(x):
            with parts.computing():
                z_mean, z_log_var = parts.encoder(x, training=False)
                z_mean = tf.cast(z_mean, tf.float32)
                z_log_var = tf.cast(z_log_var, tf.float32)
                logits = parts.network(z_mean, training=False)
            nll = reconstruction_nll(x, logits, likelihood, sigma)
            return tf.cast(nll + kl_divergence(z_mean, z_log_var), tf.float32)

        x = _prepare_images(images, size, parts.value_range)
        score = _on_any_batch(run, x)
        if anomaly_threshold is None:
            return {"score": score}
        return {"score": score, "is_anomaly": score > float(anomaly_threshold)}

    return anomaly_score


def _add_encoding(
    archive: keras.export.ExportArchive,
    model: Any,
    parts: _Networks,
    anomaly_threshold: float | None,
) -> None:
    """A VAE's `encode`, `reconstruct`, (`denoise`) and `anomaly_score`."""
    size = _input_image_size(parts.encoder)
    # Any height and width (resized in the graph), any channel count (checked
    # in the graph with a clear message rather than rejected by the spec).
    image_spec = tf.TensorSpec((None, None, None, None), tf.uint8, name="images")

    def posterior(images):
        x = _prepare_images(images, size, parts.value_range)

        def run(x):
            with parts.computing():
                z_mean, z_log_var = parts.encoder(x, training=False)
            return tf.cast(z_mean, tf.float32), tf.cast(z_log_var, tf.float32)

        return _on_any_batch(run, x)

    def encode(images):
        z_mean, z_log_var = posterior(images)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    def reconstruct(images):
        z_mean, _ = posterior(images)
        return {"images": parts.decode(z_mean, None)}

    anomaly_score = _anomaly_score_fn(model, parts, size, anomaly_threshold)
    archive.add_endpoint("encode", encode, input_signature=[image_spec])
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[image_spec])
    if getattr(model, "denoising", False):
        archive.add_endpoint("denoise", reconstruct, input_signature=[image_spec])
    archive.add_endpoint("anomaly_score", anomaly_score, input_signature=[image_spec])


def build_export_archive(
    model: GenerativeModel,
    anomaly_threshold: float | None = None,
    keep_precision: bool = False,
    max_batch: int = MAX_BATCH,
) -> keras.export.ExportArchive:
    """A `keras.export.ExportArchive` with every signature of `model`.

    Only the variables the signatures use are saved, once each: the (EMA)
    generator of a GAN, never its discriminator; the encoder and decoder of
    a VAE.

    Args:
        model: a trained `GAN` or `VAE`.
        anomaly_threshold: VAE only: stored in the graph; `anomaly_score`
            then also returns `is_anomaly = score > anomaly_threshold`.
        keep_precision: compute in the model's trained precision (e.g.
            bfloat16) instead of float32.
        max_batch: largest batch a request may send (INVALID_ARGUMENT above).

    Returns:
        The archive, ready for `write_out`.

    Example:
    >>> from keras_gen.models.gan.dcgan import (
    ...     build_dcgan_generator, build_dcgan_discriminator)
    >>> from keras_gen.models import GAN
    >>> gan = GAN(build_dcgan_generator(32, latent_dim=16, width=8),
    ...           build_dcgan_discriminator(32, width=8))
    >>> archive = build_export_archive(gan)
    """
    if _is_dae(model):
        if anomaly_threshold is not None:
            raise ValueError("anomaly_threshold applies to VAEs only")
        return _denoiser_archive(model, keep_precision, max_batch)
    parts = _Networks.of(model, keep_precision)
    # No `archive.track(network)`: the endpoints capture the variables they
    # use, and tracking the Keras wrappers as well stores every weight twice
    # (2x files and 2x server RAM, keras-team/keras#23553, Keras 3.15).
    archive = keras.export.ExportArchive()
    _add_generating(archive, parts, max_batch)
    if parts.is_vae:
        _add_encoding(archive, model, parts, anomaly_threshold)
    return archive
