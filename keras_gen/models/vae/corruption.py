"""On-the-fly input corruption for denoising autoencoders and VAEs.

A denoising model sees `corrupt(x)` as input and is scored against the clean
`x`. The corruption is drawn inside `train_step` (fresh noise every step, no
noisy copy of the data set on disk) with per-replica noise, so that replicas
of a distributed step do not share it.

A spec is a plain dict (it is stored in the model's config):

- `{"noise": "gaussian", "sigma": 0.1}`: additive N(0, sigma^2), clipped to
  [0, 1]; `"sigma": [lo, hi]` draws one sigma per image uniformly in the
  range (a model that works at several noise levels);
- `{"noise": "salt_pepper", "amount": 0.05}`: that fraction of pixels set to
  0 or 1 (half each), the same for every channel of a pixel;
- `{"noise": "mask", "mask_size": 0.25}`: one square of side
  `mask_size * image side` at a random position set to 0 (inpainting).
"""

from __future__ import annotations

from typing import Any

from keras import ops

from keras_gen.models.distributed import replica_normal, replica_uniform

NOISES = ("gaussian", "salt_pepper", "mask")
DEFAULTS: dict[str, Any] = {
    "noise": "gaussian",
    "sigma": 0.1,
    "amount": 0.05,
    "mask_size": 0.25,
}


def normalize_spec(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """`spec` with defaults filled in and checked; None stays None.

    Raises:
        ValueError: unknown key, unknown noise, or a value out of range (the
            message names the key and the allowed values).
    """
    if spec is None:
        return None
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"denoising: unknown key {unknown[0]!r}; allowed: {', '.join(DEFAULTS)}."
        )
    out = {**DEFAULTS, **spec}
    if out["noise"] not in NOISES:
        raise ValueError(
            f"denoising.noise: {out['noise']!r} is not one of {', '.join(NOISES)}."
        )
    sigma = out["sigma"]
    if isinstance(sigma, (list, tuple)):
        if len(sigma) != 2 or not 0 <= float(sigma[0]) <= float(sigma[1]):
            raise ValueError(
                f"denoising.sigma: expected a number or [lo, hi] with "
                f"0 <= lo <= hi, got {sigma!r}."
            )
        out["sigma"] = [float(sigma[0]), float(sigma[1])]
    elif float(sigma) < 0:
        raise ValueError(f"denoising.sigma must be >= 0, got {sigma!r}.")
    else:
        out["sigma"] = float(sigma)
    for key in ("amount", "mask_size"):
        if not 0.0 <= float(out[key]) <= 1.0:
            raise ValueError(f"denoising.{key} must be in [0, 1], got {out[key]!r}.")
        out[key] = float(out[key])
    return out


def corrupt(images, spec: dict[str, Any], seed_generator):
    """Corrupted copy of `images` (floats in [0, 1], `[B, H, W, C]`).

    Args:
        images: the clean batch.
        spec: a spec as returned by `normalize_spec`.
        seed_generator: a `keras.random.SeedGenerator`.
    """
    images = ops.cast(images, "float32")
    shape = ops.shape(images)
    batch = shape[0]
    noise = spec["noise"]
    if noise == "gaussian":
        sigma = spec["sigma"]
        if isinstance(sigma, (list, tuple)):
            u = replica_uniform((batch, 1, 1, 1), seed_generator)
            sigma = sigma[0] + (sigma[1] - sigma[0]) * u
        eps = replica_normal(shape, seed_generator)
        return ops.clip(images + sigma * eps, 0.0, 1.0)
    if noise == "salt_pepper":
        u = replica_uniform((batch, shape[1], shape[2], 1), seed_generator)
        half = spec["amount"] / 2.0
        salt = ops.cast(u < half, "float32")
        pepper = ops.cast(u > 1.0 - half, "float32")
        return images * (1.0 - salt - pepper) + salt
    # mask: one square per image, position uniform over the valid range.
    height = ops.cast(shape[1], "float32")
    width = ops.cast(shape[2], "float32")
    side_h = ops.round(spec["mask_size"] * height)
    side_w = ops.round(spec["mask_size"] * width)
    u = replica_uniform((batch, 2), seed_generator)
    top = ops.floor(u[:, 0] * (height - side_h + 1.0))
    left = ops.floor(u[:, 1] * (width - side_w + 1.0))
    rows = ops.cast(ops.arange(shape[1]), "float32")[None, :, None, None]
    cols = ops.cast(ops.arange(shape[2]), "float32")[None, None, :, None]
    top = top[:, None, None, None]
    left = left[:, None, None, None]
    inside = (
        (rows >= top) & (rows < top + side_h) & (cols >= left) & (cols < left + side_w)
    )
    return images * (1.0 - ops.cast(inside, "float32"))
