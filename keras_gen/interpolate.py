"""Latent-space interpolation: grids and animations between seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_gen.inference import class_ids, load_generator, resolve_model_path


def slerp(z0: np.ndarray, z1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation between latent vectors (White 2016).

    Gaussian latents concentrate near a sphere; linear interpolation passes
    through the low-norm interior, which the generator rarely saw, while slerp
    stays at the typical norm.

    Args:
        z0, z1: vectors of shape `[latent_dim]`.
        t: one or more positions in [0, 1].

    Returns:
        `[len(t), latent_dim]` (or `[latent_dim]` for a scalar t).
    """
    t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))[:, None]
    a, b = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    cos = np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:  # (anti)parallel: fall back to linear interpolation
        out = (1 - t_arr) * a + t_arr * b
    else:
        out = (np.sin((1 - t_arr) * omega) * a + np.sin(t_arr * omega) * b) / np.sin(
            omega
        )
    out = out.astype(np.float32)
    return out[0] if np.ndim(t) == 0 else out


def interpolation_latents(latent_dim: int, seeds: list[int], steps: int) -> np.ndarray:
    """`[len(seeds) - 1, steps, latent_dim]`: slerp paths seed_i -> seed_i+1.

    The end points are the latents of `latents_from_seeds`, so they match the
    images of `keras-gen sample --seed` and of the exported `generate`.
    """
    from keras_gen.models.base import latents_from_seeds

    if len(seeds) < 2 or steps < 2:
        raise ValueError("need at least 2 seeds and 2 steps")
    ends = np.asarray(latents_from_seeds(np.asarray(seeds), latent_dim))
    t = np.linspace(0.0, 1.0, steps)
    return np.stack([slerp(ends[i], ends[i + 1], t) for i in range(len(seeds) - 1)])


class _Decoder:
    """Latents -> uint8 images, from a `.keras` model or a SavedModel."""

    def __init__(self, fn, latent_dim: int, image_shape: tuple[int, ...]):
        self.fn, self.latent_dim, self.image_shape = fn, latent_dim, image_shape

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(np.asarray(z, np.float32)))


def load_decoder(
    model_path: str | Path, label: str | None = None
) -> tuple[_Decoder, int]:
    """A latent decoder from a `.keras` file or a SavedModel (`serving_default`).

    A conditional model decodes every latent as class `label` (a name or id;
    default: the first class).
    """
    path = resolve_model_path(model_path)
    if path.suffix == ".keras":
        from keras_gen.models.base import images_to_uint8

        model = load_generator(path)
        if label is not None and not model.num_classes:
            raise ValueError(f"label {label!r}: {path} is not a conditional model")
        class_id = None
        if model.num_classes:
            class_id = model.class_ids(0 if label is None else label, 1)

        def fn(z):
            inputs = z if class_id is None else [z, np.repeat(class_id, len(z))]
            return images_to_uint8(model.predict(inputs, verbose=0), model.value_range)

        shape = tuple(fn(np.zeros((1, model.latent_dim), "float32")).shape[1:])
        return _Decoder(fn, model.latent_dim, shape), model.latent_dim
    import tensorflow as tf

    from keras_gen.export import read_class_names

    saved = path
    signature = tf.saved_model.load(str(saved)).signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    latent_dim = int(specs["z"].shape[-1])
    extra = {}
    if "label" in specs:
        names = read_class_names(saved)
        class_id = class_ids("0" if label is None else str(label), names, 1)[0]
    elif label is not None:
        raise ValueError(f"label {label!r}: {saved} is not a conditional model")

    def fn(z):
        if "label" in specs:
            extra["label"] = tf.fill([len(z)], tf.constant(class_id, tf.int64))
        return signature(z=tf.constant(z), **extra)["images"].numpy()

    shape = tuple(fn(np.zeros((1, latent_dim), "float32")).shape[1:])
    return _Decoder(fn, latent_dim, shape), latent_dim


def interpolate(
    model_path: str | Path,
    out: str | Path,
    seeds: list[int],
    steps: int = 8,
    frame_ms: int = 80,
    label: str | None = None,
) -> Path:
    """Write a PNG grid (one row per pair of seeds) or an animated GIF.

    Args:
        model_path: `.keras` file or SavedModel folder (its `serving_default`).
        out: `*.png` for a grid, `*.gif` for an animation looping through the seeds.
        seeds: the seeds to pass through, in order.
        steps: images per segment, end points included.
        frame_ms: GIF frame duration.
        label: class (name or id) of a conditional model (default: the first).
    """
    from PIL import Image

    from keras_gen.utils.images import save_image_grid

    out = Path(out)
    if out.suffix not in (".png", ".gif"):
        raise ValueError(f"--out must end in .png or .gif, got {out}")
    decode, latent_dim = load_decoder(model_path, label)
    z = interpolation_latents(latent_dim, seeds, steps)
    images = decode(z.reshape(-1, latent_dim)).reshape(
        *z.shape[:2], *decode.image_shape
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        return save_image_grid(
            images.reshape(-1, *decode.image_shape), out, columns=steps
        )
    # The animation runs seed_0 -> ... -> seed_n and back, without repeating
    # the shared end frames of consecutive segments.
    frames = [images[0, 0]] + [f for seg in images for f in seg[1:]]
    frames = frames + frames[-2:0:-1]
    pil = [
        Image.fromarray(f).resize((f.shape[1] * 2, f.shape[0] * 2), Image.NEAREST)
        for f in frames
    ]
    pil[0].save(out, save_all=True, append_images=pil[1:], duration=frame_ms, loop=0)
    return out
