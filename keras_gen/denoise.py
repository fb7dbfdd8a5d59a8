"""Denoise images of any size with a trained denoising model.

Two cases, chosen from the model:

- a fully convolutional `DenoisingAutoencoder` (input size free) denoises the
  whole image in one pass (the model mirror-pads sides to its stride
  multiple and crops back);
- a model with a fixed input side S (a `VAE` trained with `denoising`) is
  run on S x S tiles with 50% overlap, each tile weighted by a separable
  ramp (heavier in the centre, never zero) when the outputs are blended, so
  that tile borders do not show; images smaller than S are padded by
  reflection. Tiling keeps the pixel scale the model was trained on, where
  resizing a 256 px photo to 64 px and back would blur it.

`keras-gen denoise MODEL IN_DIR|IMAGE --out OUT` writes one denoised PNG per
input; with `--add-noise SIGMA` the inputs are taken as clean, noise is added
(seeded), and a noisy | denoised | clean triplet PNG plus the PSNR of each is
written as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# The image files of a folder, as every command lists them (no TensorFlow).
from keras_gen.data.images import list_images


def load_denoiser(path: str | Path, force: bool = False) -> Any:
    """A model trained to denoise: a DAE, or a VAE trained with `denoising`.

    Args:
        path: a run folder, `.keras` file or SavedModel (with a `denoise`
            signature).
        force: also accept a VAE trained without `denoising` (its
            reconstructions blur; measured here, 20.36 dB -> 12.01 dB).

    Raises:
        ValueError: the model cannot denoise, or was not trained to.
    """
    from keras_gen.inference import describe, load_keras, resolve_model_path

    path = resolve_model_path(path)
    if path.suffix != ".keras":
        return SavedDenoiser(path)
    model = load_keras(path)
    if not hasattr(model, "reconstruct"):
        raise ValueError(f"{path} holds {describe(model)}; it cannot denoise")
    from keras_gen.models import VAE

    if isinstance(model, VAE) and model.denoising is None and not force:
        raise ValueError(
            f"{path}: a {type(model).__name__} trained without model.denoising: "
            "its reconstructions are not a denoiser and usually make images "
            "worse; train one with model.denoising (or model.type: dae), or "
            "pass --force to use it anyway"
        )
    return model


class SavedDenoiser:
    """The `denoise` signature of an exported model, used like a Keras denoiser.

    Args:
        path: a SavedModel version folder.

    Example:
    >>> model = SavedDenoiser("saved_models/denoiser/1")  # doctest: +SKIP
    >>> model.denoise(np.zeros((1, 48, 40, 3), np.float32)).shape  # doctest: +SKIP
    (1, 48, 40, 3)
    """

    def __init__(self, path: str | Path):
        import tensorflow as tf

        from keras_gen.inference import load_signature

        self._loaded, self._fn = load_signature(
            path, "denoise", "export a model trained to denoise"
        )
        signatures = self._loaded.signatures
        # A VAE's signatures work at its training side (tiles of that side
        # pass unresized); a DAE's at any size.
        self.side = None
        if "generate" in signatures:
            seed = tf.constant([0], tf.int64)
            self.side = int(signatures["generate"](seed=seed)["images"].shape[1])

    def denoise(self, batch: np.ndarray) -> np.ndarray:
        """Float images in [0, 1] -> denoised float images (via uint8, as served)."""
        import tensorflow as tf

        images = tf.constant(_to_uint8(np.asarray(batch)))
        return self._fn(images=images)["images"].numpy().astype(np.float32) / 255.0


def fixed_input_side(model: Any) -> int | None:
    """The square input side the model needs, or None when any size works."""
    if isinstance(model, SavedDenoiser):
        return model.side
    net = getattr(model, "encoder", None) or getattr(model, "network", None)
    height = net.inputs[0].shape[1] if net is not None else None
    return None if height is None else int(height)


def _run(model: Any, batch: np.ndarray) -> np.ndarray:
    fn = getattr(model, "denoise", None) or model.reconstruct
    return np.clip(np.asarray(fn(batch.astype(np.float32))), 0.0, 1.0)


def _ramp(n: int) -> np.ndarray:
    # Triangle peaking at the centre, floored so corner pixels (covered by
    # one tile only) keep a non-zero weight.
    t = (np.arange(n) + 0.5) / n
    return np.maximum(1.0 - np.abs(2.0 * t - 1.0), 0.05)


def _starts(length: int, tile: int) -> list[int]:
    stride = tile // 2
    starts = list(range(0, max(length - tile, 0) + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def denoise_array(model: Any, image: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Denoise one float image `[H, W, C]` in [0, 1] of any size."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"expected an image [H, W, C], got shape {image.shape}")
    h, w, _ = image.shape
    side = fixed_input_side(model)
    if side is None:
        # A DAE pads to its stride multiple itself (and so does its export).
        return _run(model, image[None])[0]
    ph, pw = max(side - h, 0), max(side - w, 0)
    padded = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect")
    hh, ww = padded.shape[:2]
    corners = [(t, left) for t in _starts(hh, side) for left in _starts(ww, side)]
    weight = np.outer(_ramp(side), _ramp(side))[..., None]
    total = np.zeros_like(padded)
    norm = np.zeros(padded.shape[:2] + (1,), np.float32)
    for i in range(0, len(corners), batch_size):
        chunk = corners[i : i + batch_size]
        tiles = np.stack([padded[t : t + side, c : c + side] for t, c in chunk])
        for (t, c), out in zip(chunk, _run(model, tiles)):
            total[t : t + side, c : c + side] += weight * out
            norm[t : t + side, c : c + side] += weight
    return (total / norm)[:h, :w]


def read_image(path: Path) -> np.ndarray:
    from PIL import Image

    from keras_gen.utils.rgb import to_rgb

    with Image.open(path) as img:
        return np.asarray(to_rgb(img), dtype=np.float32) / 255.0


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def denoise_files(
    model_path: str | Path,
    source: str | Path,
    out_dir: str | Path,
    add_noise: float | None = None,
    seed: int = 0,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Denoise every image of `source` into `out_dir` (PNG, same stem).

    Args:
        model_path: a denoising model: run folder, `.keras` or SavedModel.
        source: an image file or a folder of images.
        out_dir: output folder, created if needed.
        add_noise: if given, the inputs are clean references: Gaussian noise
            of this sigma is added first and `<stem>_triplet.png` (noisy |
            denoised | clean) is written too.
        seed: seed of the added noise.
        force: see `load_denoiser`.

    Returns:
        One record per image: paths, and PSNRs when `add_noise` is given.
    """
    from PIL import Image

    from keras_gen.evaluation.metrics import psnr

    model = load_denoiser(model_path, force=force)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    records = []
    for path in list_images(source):
        clean = read_image(path)
        noisy = clean
        if add_noise is not None:
            noise = rng.standard_normal(clean.shape).astype(np.float32)
            noisy = np.clip(clean + add_noise * noise, 0.0, 1.0)
        denoised = denoise_array(model, noisy)
        target = out_dir / f"{path.stem}.png"
        Image.fromarray(_to_uint8(denoised)).save(target)
        record: dict[str, Any] = {"input": str(path), "output": str(target)}
        if add_noise is not None:
            gap = np.ones((clean.shape[0], 2, 3), np.float32)
            triplet = np.concatenate([noisy, gap, denoised, gap, clean], axis=1)
            triplet_path = out_dir / f"{path.stem}_triplet.png"
            Image.fromarray(_to_uint8(triplet)).save(triplet_path)
            record.update(
                triplet=str(triplet_path),
                psnr_noisy=float(psnr(clean[None], noisy[None])[0]),
                psnr_denoised=float(psnr(clean[None], denoised[None])[0]),
            )
        records.append(record)
    return records
