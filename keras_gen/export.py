"""SavedModel export for TensorFlow Serving.

Layout: `<export_dir>/<name>/<version>/saved_model.pb` + `variables/`, the
model-repository layout that `tensorflow_model_server --model_base_path`
reads (it serves the highest integer version).

Signatures (the public contract; inputs and outputs are named):
- `serving_default`: `z` float32 `[None, latent_dim]` -> `images` uint8
  `[None, H, W, 3]`.
- `generate`: `seed` int64 `[None]` -> `images` uint8 `[None, H, W, 3]`, one
  image per seed, the same image for the same seed on every call (stateless
  random latents, identical to `GenerativeModel.generate(seed=...)`).
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import tensorflow as tf

from keras_gen.models.base import GenerativeModel, latents_from_seeds

SIGNATURES = ("serving_default", "generate")


def next_version(model_dir: str | Path) -> int:
    """1 + the highest integer version folder under `model_dir` (1 if none)."""
    model_dir = Path(model_dir)
    versions = [
        int(p.name)
        for p in model_dir.glob("*")
        if p.is_dir() and re.fullmatch(r"\d+", p.name)
    ]
    return max(versions, default=0) + 1


def _to_uint8(images, value_range):
    low, high = value_range
    images = (tf.cast(images, tf.float32) - low) * (255.0 / (high - low))
    return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)


def export_generator(
    model: GenerativeModel,
    export_dir: str | Path,
    name: str,
    version: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Export the image-generating half of `model` as a SavedModel.

    For a GAN only the generator's variables are written (the discriminator is
    not needed to serve); for a VAE only the decoder's.

    Args:
        model: a trained `GAN` or `VAE`.
        export_dir: base folder of the model repository (e.g. `saved_models`).
        name: model name, the folder under `export_dir`.
        version: integer version; default: the next free one.
        overwrite: replace an existing version folder instead of failing.

    Returns:
        The version folder that holds `saved_model.pb`.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"model name must match [A-Za-z0-9_.-]+, got {name!r}")
    model_dir = Path(export_dir) / name
    version = next_version(model_dir) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}")
    path = model_dir / str(version)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True or another version")

    latent_dim = model.latent_dim
    value_range = model.value_range
    # Tracking the decoding network alone keeps other sub-models out.
    network = model.generator if hasattr(model, "generator") else model.decoder
    is_vae = not hasattr(model, "generator")

    def decode(z):
        out = network(z, training=False)
        if is_vae:
            out = tf.sigmoid(out)
        return _to_uint8(out, value_range)

    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint(
        "serving_default",
        lambda z: {"images": decode(z)},
        input_signature=[tf.TensorSpec((None, latent_dim), tf.float32, name="z")],
    )
    archive.add_endpoint(
        "generate",
        lambda seed: {"images": decode(latents_from_seeds(seed, latent_dim))},
        input_signature=[tf.TensorSpec((None,), tf.int64, name="seed")],
    )
    if path.exists():
        import shutil

        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    archive.write_out(str(path), verbose=False)
    return path
