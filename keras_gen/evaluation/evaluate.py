"""The streaming evaluation driver behind ``keras-gen evaluate``.

Images flow through in batches and are dropped after use: what is kept per
image set is its features' running mean and covariance (FID), the features
themselves (KID and precision/recall: 10,000 x 2048 float32 = 80 MB) and a
bounded reservoir of SWD patch descriptors. Real and generated images go
through the same path: uint8 at the model's size -> the extractor's own resize.

Sources of real images (``--data SPEC``):

- ``rooms``, ``rooms:N`` or ``rooms:N:SEED``: procedural rooms rendered batch
  by batch, with seed :data:`DEFAULT_ROOMS_SEED` (1000) by default, so that
  they are not the training rooms (training uses seed 0 unless configured).
- a folder path: every image under it, in sorted file order, resized and
  centre-cropped like the training data
  (:func:`keras_gen.data.folder.image_folder_dataset` with ``training=False``).

With ``real_vs_real`` the real stream is split into two disjoint halves: the
first ``n`` images are the reference set the model is compared with, the next
``n`` the second half, whose distance to the first is the floor a perfect
model would reach with ``n`` samples.

Example:
    >>> from keras_gen.evaluation.evaluate import evaluate_model
    >>> result = evaluate_model("runs/demo_gan/model.keras", "rooms", num=1000,
    ...                         real_vs_real=True)  # doctest: +SKIP
    >>> print(format_table(result))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from keras_gen.evaluation.artifacts import flat_square_sides
from keras_gen.evaluation.blas import limit_blas_threads
from keras_gen.evaluation.features import FeatureExtractor, get_feature_extractor
from keras_gen.evaluation.metrics import (
    RunningGaussian,
    bits_per_dim,
    frechet_distance,
    kernel_inception_distance,
    precision_recall,
)
from keras_gen.evaluation.swd import SWDAccumulator

__all__ = [
    "ALL_METRICS",
    "DEFAULT_ROOMS_SEED",
    "FeatureSet",
    "ImageSource",
    "VAEStats",
    "compare",
    "evaluate",
    "evaluate_model",
    "format_table",
    "generated_source",
    "parse_metrics",
    "real_source",
    "write_json",
]

#: Metric groups: FID, KID, sliced Wasserstein, precision/recall, the
#: fraction of images with a flat square (leaked cutout), VAE reconstruction
#: (PSNR/SSIM) and negative ELBO.
ALL_METRICS = ("fid", "kid", "swd", "pr", "flat", "vae")
#: Seed of the procedural rooms used as real data (training uses 0).
DEFAULT_ROOMS_SEED = 1000

_FEATURE_METRICS = frozenset({"fid", "kid", "pr"})

VAE_NOTE = (
    "nelbo_bpd = -ELBO / (H*W*C*ln 2) with one posterior sample per image and "
    "beta = 1, for pixels scaled to [0, 1]. A Bernoulli likelihood on "
    "non-binary pixels is not a normalised density over 8-bit images, so its "
    "bits/dim is not comparable with published likelihoods; for a Gaussian "
    "likelihood, nelbo_bpd_8bit = nelbo_bpd + log2(255) approximates the usual "
    "bits/dim of 8-bit data (pixels k/255 lie in bins of width 1/255; exact "
    "only with dequantisation)."
)


def parse_metrics(spec: str | Sequence[str]) -> list[str]:
    """``"fid,kid"`` -> ``["fid", "kid"]``, validated against :data:`ALL_METRICS`."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip().lower() for n in names if n.strip()]
    aliases = {"precision": "pr", "recall": "pr", "precision_recall": "pr"}
    names = list(dict.fromkeys(aliases.get(n, n) for n in names))
    unknown = [n for n in names if n not in ALL_METRICS]
    if unknown or not names:
        raise ValueError(
            f"unknown metrics {unknown or spec!r}; choose from {', '.join(ALL_METRICS)}"
        )
    return names


# --------------------------------------------------------------------------- #
# Image sources
# --------------------------------------------------------------------------- #
@dataclass
class ImageSource:
    """A stream of uint8 images ``[B, S, S, 3]`` in a fixed order.

    Attributes:
        description: what the images are (written to results).
        image_size: side of the images.
        available: how many images there are (None: unlimited).
        batches: function ``(count, batch_size) -> iterator of uint8 batches``
            yielding the first ``count`` images.
    """

    description: str
    image_size: int
    available: int | None
    batches: Callable[[int, int], Iterator[np.ndarray]]


def array_source(images: np.ndarray, description: str = "array") -> ImageSource:
    """An :class:`ImageSource` over uint8 images in memory."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f"expected uint8 images [N, S, S, 3], got {images.dtype} {images.shape}"
        )

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, min(count, len(images)), batch_size):
            yield images[start : min(start + batch_size, count)]

    return ImageSource(description, images.shape[1], len(images), batches)


def _rooms_source(spec: str, image_size: int) -> ImageSource:
    from keras_gen.data.rooms import image_seed, render_room

    parts = spec.split(":")
    try:
        limit = int(parts[1]) if len(parts) > 1 and parts[1] else None
        seed = int(parts[2]) if len(parts) > 2 else DEFAULT_ROOMS_SEED
    except ValueError:
        raise ValueError(
            f"bad rooms spec {spec!r}: use rooms, rooms:N or rooms:N:SEED"
        ) from None
    if len(parts) > 3 or (limit is not None and limit < 1) or seed < 0:
        raise ValueError(f"bad rooms spec {spec!r}: use rooms, rooms:N or rooms:N:SEED")

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        # Rendered a batch at a time (~1 ms an image at 64x64): never the
        # whole set in memory.
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            yield np.stack(
                [
                    render_room(image_seed(seed, i), image_size)[0]
                    for i in range(start, stop)
                ]
            )

    return ImageSource(f"rooms(seed={seed})", image_size, limit, batches)


def _folder_source(path: str, image_size: int) -> ImageSource:
    from keras_gen.data.folder import image_folder_dataset

    def dataset(batch_size: int) -> tf.data.Dataset:
        return image_folder_dataset(
            path,
            image_size=image_size,
            batch_size=batch_size,
            value_range=(0.0, 255.0),
            training=False,
            flip=False,
            cache=False,
            drop_remainder=False,
        )

    available = len(dataset(1).folder_info.files)

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        ds = dataset(batch_size).unbatch().take(count).batch(batch_size)
        for batch in ds:
            # value_range (0, 255) makes the pipeline's conversion the
            # identity, so these are the decoded uint8 values exactly.
            yield np.rint(batch.numpy()).astype(np.uint8)

    return ImageSource(f"folder {path}", image_size, available, batches)


def real_source(spec: str, image_size: int) -> ImageSource:
    """The real images named by a ``--data`` spec, at ``image_size``.

    Args:
        spec: ``rooms``, ``rooms:N``, ``rooms:N:SEED`` or a folder path.
        image_size: side the images are rendered or resized to (the model's).

    Returns:
        An :class:`ImageSource`.

    Raises:
        FileNotFoundError: for a folder that does not exist.
    """
    if spec == "rooms" or spec.startswith("rooms:"):
        return _rooms_source(spec, image_size)
    if not Path(spec).expanduser().is_dir():
        raise FileNotFoundError(
            f"--data {spec!r} is neither 'rooms[:N[:SEED]]' nor an existing folder"
        )
    return _folder_source(str(Path(spec).expanduser()), image_size)


def _decode_fn(model: Any) -> Callable[[tf.Tensor], tf.Tensor]:
    # The EMA generator, when a model has one, gives the better samples and is
    # what papers evaluate.
    ema = getattr(model, "ema_generator", None)
    if ema is not None:
        return lambda z: ema(z, training=False)
    return lambda z: model.decode_latents(z, training=False)


def saved_model_source(path: str | Path, seed: int = 0) -> ImageSource:
    """Images of an exported model's `generate` signature (seeds from `seed`).

    The same images as `generated_source` of the model it was exported from
    (the signature decodes the same latents; a conditional model cycles
    through its classes the same way).
    """
    from keras_gen.export import read_class_names

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("generate")
    if signature is None:
        raise ValueError(f"{path}: a SavedModel without a 'generate' signature")
    conditional = "label" in signature.structured_input_signature[1]
    num_classes = len(read_class_names(path)) if conditional else None

    def run(seeds: tf.Tensor) -> np.ndarray:
        inputs = {"seed": seeds}
        if conditional:
            inputs["label"] = seeds % num_classes
        # Through `loaded`, which owns the variables the signature reads.
        return loaded.signatures["generate"](**inputs)["images"].numpy()

    image_size = int(run(tf.constant([seed], tf.int64)).shape[1])

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, count, batch_size):
            stop = seed + min(start + batch_size, count)
            yield run(tf.range(seed + start, stop, dtype=tf.int64))

    classes = ", classes in turn" if conditional else ""
    return ImageSource(
        f"SavedModel {path}, latent seeds from {seed}{classes}",
        image_size,
        None,
        batches,
    )


def generated_source(model: Any, seed: int = 0) -> ImageSource:
    """Images of a keras-gen model: image i decodes the latent of seed ``seed + i``.

    Uses ``model.ema_generator`` when the model has one. Images are quantised
    to uint8 exactly as ``generate_uint8`` does, so they take the same path as
    the real ones.
    """
    from keras_gen.data.pipeline import from_value_range
    from keras_gen.models.base import latents_from_seeds

    decode = _decode_fn(model)
    value_range = tuple(model.value_range)

    num_classes = getattr(model, "num_classes", None)

    @tf.function(reduce_retracing=True)
    def step(seeds: tf.Tensor) -> tf.Tensor:
        z = latents_from_seeds(seeds, model.latent_dim)
        if num_classes:
            # Classes in turn, so a conditional model is scored on all of them.
            z = [z, tf.cast(seeds % num_classes, tf.int32)]
        images = decode(z)
        return from_value_range(images, value_range)

    probe = step(tf.constant([seed], tf.int64))
    image_size = int(probe.shape[1])

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            seeds = tf.range(seed + start, seed + stop, dtype=tf.int64)
            yield step(seeds).numpy()

    uses_ema = getattr(model, "ema_generator", None) is not None
    name = f"{type(model).__name__}{' (EMA generator)' if uses_ema else ''}"
    classes = ", classes in turn" if num_classes else ""
    return ImageSource(
        f"{name}, latent seeds from {seed}{classes}", image_size, None, batches
    )


# --------------------------------------------------------------------------- #
# Per-set statistics
# --------------------------------------------------------------------------- #
class FeatureSet:
    """What the metrics need from one image set, accumulated batch by batch.

    Args:
        extractor: feature extractor (None if only SWD/VAE metrics are asked).
        image_size: side of the images.
        metrics: metric groups (see :data:`ALL_METRICS`).
        seed: seed of the SWD patch sampling.
        max_features: cap on kept features (KID, PR); later ones still count
            for FID. None keeps all.
        swd_max_descriptors: SWD reservoir size per level.
    """

    def __init__(
        self,
        extractor: FeatureExtractor | None,
        image_size: int,
        metrics: Sequence[str],
        *,
        seed: int = 0,
        max_features: int | None = None,
        swd_max_descriptors: int = 2**18,
        feature_batch_size: int = 64,
    ) -> None:
        self.extractor = extractor
        self.metrics = set(metrics)
        self.count = 0
        self.gaussian = RunningGaussian() if "fid" in self.metrics else None
        self.keep_features = bool(self.metrics & {"kid", "pr"})
        self.max_features = max_features
        self._features: list[np.ndarray] = []
        self._kept = 0
        self.feature_batch_size = feature_batch_size
        self.swd = (
            SWDAccumulator(image_size, seed=seed, max_descriptors=swd_max_descriptors)
            if "swd" in self.metrics
            else None
        )
        self.seconds = {"features": 0.0, "swd": 0.0}
        self.flat_count = 0

    def update(self, images: np.ndarray) -> None:
        """Add a batch of uint8 images."""
        if self.metrics & _FEATURE_METRICS:
            start = time.perf_counter()
            features = self.extractor(images, batch_size=self.feature_batch_size)
            if not np.all(np.isfinite(features)):
                raise ValueError("non-finite features (NaN/Inf in the images?)")
            if self.gaussian is not None:
                self.gaussian.update(features)
            if self.keep_features:
                room = len(features)
                if self.max_features is not None:
                    room = max(0, min(room, self.max_features - self._kept))
                if room:
                    self._features.append(features[:room])
                    self._kept += room
            self.seconds["features"] += time.perf_counter() - start
        if self.swd is not None:
            start = time.perf_counter()
            self.swd.update(images)
            self.seconds["swd"] += time.perf_counter() - start
        if "flat" in self.metrics:
            self.flat_count += int(
                np.sum(flat_square_sides(images) >= max(2, images.shape[1] // 4))
            )
        self.count += len(images)

    @property
    def flat_fraction(self) -> float:
        """Fraction of the images holding a flat square (see `artifacts`)."""
        return self.flat_count / max(self.count, 1)

    @property
    def features(self) -> np.ndarray:
        """The kept features ``[n, D]``."""
        if not self._features:
            raise ValueError("no features kept (ask for 'kid' or 'pr')")
        if len(self._features) > 1:
            self._features = [np.concatenate(self._features)]
        return self._features[0]


def compare(
    real: FeatureSet,
    fake: FeatureSet,
    metrics: Sequence[str],
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, float]]:
    """Distances between two accumulated sets.

    Returns:
        ``(values, seconds)``: metric values (``fid``, ``kid_mean``,
        ``kid_std``, ``swd_<side>``, ``swd_mean``, ``precision``, ``recall``)
        and the time each group took.
    """
    values: dict[str, float] = {}
    seconds: dict[str, float] = {}
    if "fid" in metrics:
        start = time.perf_counter()
        values["fid"] = frechet_distance(*real.gaussian.stats(), *fake.gaussian.stats())
        seconds["fid"] = time.perf_counter() - start
    if "kid" in metrics:
        start = time.perf_counter()
        mean, std = kernel_inception_distance(
            real.features,
            fake.features,
            num_subsets=kid_subsets,
            subset_size=kid_subset_size,
            seed=seed,
        )
        values["kid_mean"], values["kid_std"] = mean, std
        seconds["kid"] = time.perf_counter() - start
    if "swd" in metrics:
        start = time.perf_counter()
        values.update(real.swd.distance(fake.swd, seed=seed))
        seconds["swd"] = time.perf_counter() - start
    if "pr" in metrics:
        start = time.perf_counter()
        values["precision"], values["recall"] = precision_recall(
            real.features, fake.features, k=pr_k
        )
        seconds["pr"] = time.perf_counter() - start
    if "flat" in metrics:
        values["flat_fraction"] = fake.flat_fraction
        values["flat_fraction_real"] = real.flat_fraction
    return values, seconds


class VAEStats:
    """Reconstruction PSNR/SSIM and the negative ELBO of a VAE on real images.

    PSNR and SSIM (``tf.image.ssim``, 11x11 Gaussian window) compare each image
    in [0, 1] with the decoding of its posterior mean. The negative ELBO uses
    one posterior sample per image (stateless, seeded noise), the model's own
    likelihood and beta = 1, whatever beta the model was trained with.

    Args:
        vae: a ``keras_gen.models.VAE`` (or anything with ``encode``,
            ``decoder``, ``likelihood`` and ``gaussian_sigma``).
        seed: seed of the posterior noise.
    """

    def __init__(self, vae: Any, seed: int = 0) -> None:
        from keras_gen.models.vae.vae import kl_divergence, reconstruction_nll

        self.vae = vae
        self.seed = seed
        self.count = 0
        self.sums = {"psnr": 0.0, "ssim": 0.0, "nll": 0.0, "kl": 0.0}
        self.num_dims = 0

        @tf.function(reduce_retracing=True)
        def step(images: tf.Tensor, batch_index: tf.Tensor):
            x = tf.cast(images, tf.float32) / 255.0
            z_mean, z_log_var = vae.encode(x)
            recon = tf.sigmoid(vae.decoder(z_mean, training=False))
            mse = tf.reduce_mean(tf.square(x - recon), axis=[1, 2, 3])
            psnr = 10.0 * tf.math.log(1.0 / tf.maximum(mse, 1e-12)) / tf.math.log(10.0)
            ssim = tf.image.ssim(x, recon, max_val=1.0)
            eps = tf.random.stateless_normal(
                tf.shape(z_mean),
                seed=tf.stack([tf.cast(self.seed, tf.int64), batch_index]),
            )
            z = z_mean + tf.exp(0.5 * z_log_var) * eps
            logits = vae.decoder(z, training=False)
            nll = reconstruction_nll(x, logits, vae.likelihood, vae.gaussian_sigma)
            kl = kl_divergence(z_mean, z_log_var)
            return psnr, ssim, nll, kl

        self._step = step
        self._batches = 0

    def update(self, images: np.ndarray) -> None:
        """Add a batch of uint8 real images."""
        psnr, ssim, nll, kl = (
            np.asarray(t, np.float64)
            for t in self._step(
                tf.constant(images), tf.constant(self._batches, tf.int64)
            )
        )
        self._batches += 1
        self.sums["psnr"] += float(psnr.sum())
        self.sums["ssim"] += float(ssim.sum())
        self.sums["nll"] += float(nll.sum())
        self.sums["kl"] += float(kl.sum())
        self.count += len(images)
        self.num_dims = int(np.prod(images.shape[1:]))

    def result(self) -> dict[str, float]:
        """``psnr`` (dB), ``ssim``, ``nelbo_bpd``, ``recon_bpd``, ``kl_bpd`` (means)."""
        n = self.count
        nll, kl = self.sums["nll"] / n, self.sums["kl"] / n
        values = {
            "psnr": self.sums["psnr"] / n,
            "ssim": self.sums["ssim"] / n,
            "nelbo_bpd": float(bits_per_dim(nll + kl, self.num_dims)),
            "recon_bpd": float(bits_per_dim(nll, self.num_dims)),
            "kl_bpd": float(bits_per_dim(kl, self.num_dims)),
        }
        if self.vae.likelihood == "gaussian":
            # Pixels k/255 sit in bins of width 1/255: probability ~ density
            # x 1/255 per dimension, i.e. log2(255) more bits per dimension.
            values["nelbo_bpd_8bit"] = values["nelbo_bpd"] + math.log2(255.0)
        return values


# --------------------------------------------------------------------------- #
# The driver
# --------------------------------------------------------------------------- #
def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=desc, unit="img", disable=not enabled, file=sys.stderr
    )


def evaluate(
    real: ImageSource,
    fake: ImageSource | None,
    *,
    num: int,
    metrics: Sequence[str] = ("fid", "kid", "swd", "pr"),
    features: str | FeatureExtractor = "rooms",
    real_vs_real: bool = False,
    vae: Any = None,
    batch_size: int = 100,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    swd_max_descriptors: int = 2**18,
    seed: int = 0,
    progress: bool = False,
    blas_threads: int | None = 1,
) -> dict[str, Any]:
    """Compare generated with real images (and/or real with real), streaming.

    Args:
        real: the real images.
        fake: the generated images, or None for a real-vs-real floor only.
        num: images per set; lowered to what ``real`` has (half of it with
            ``real_vs_real``), so every compared set has the same size.
        metrics: metric groups from :data:`ALL_METRICS`. ``"vae"`` needs
            ``vae``.
        features: extractor or its name (see ``get_feature_extractor``).
        real_vs_real: also compare the first ``n`` real images with the next
            ``n`` (disjoint halves): the floor.
        vae: the VAE for the ``"vae"`` metrics (computed on the first ``n``
            real images).
        batch_size: images per batch for generation, features and SWD.
        kid_subsets, kid_subset_size: KID subsets.
        pr_k: neighbourhood size of precision/recall.
        swd_max_descriptors: SWD reservoir size per level and set.
        seed: seed of the SWD patches, directions and KID subsets.
        progress: show progress bars on stderr.
        blas_threads: OpenBLAS threads for the numpy/scipy parts (see
            `keras_gen.evaluation.blas`; 1 avoids spinning threads on a shared
            CPU); None leaves them alone.

    Returns:
        A JSON-ready dict: ``model`` (metrics vs the generated set, if any),
        ``real_vs_real`` (if asked), ``vae`` (if asked), ``num_images``,
        ``features``, ``timings_s``, ``wall_time_s``, ``notes``.
    """
    with limit_blas_threads(blas_threads):
        return _evaluate(
            real,
            fake,
            num=num,
            metrics=metrics,
            features=features,
            real_vs_real=real_vs_real,
            vae=vae,
            batch_size=batch_size,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            pr_k=pr_k,
            swd_max_descriptors=swd_max_descriptors,
            seed=seed,
            progress=progress,
        )


def _evaluate(
    real: ImageSource,
    fake: ImageSource | None,
    *,
    num: int,
    metrics: Sequence[str],
    features: str | FeatureExtractor,
    real_vs_real: bool,
    vae: Any,
    batch_size: int,
    kid_subsets: int,
    kid_subset_size: int,
    pr_k: int,
    swd_max_descriptors: int,
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    start_all = time.perf_counter()
    metrics = parse_metrics(metrics)
    if "vae" in metrics and vae is None:
        raise ValueError("the 'vae' metrics need a VAE model")
    if fake is None and not real_vs_real:
        raise ValueError("nothing to compare: give a model or real_vs_real=True")
    set_metrics = [m for m in metrics if m != "vae"]
    extractor = (
        get_feature_extractor(features) if set(set_metrics) & _FEATURE_METRICS else None
    )
    halves = 2 if real_vs_real else 1
    n = num
    if real.available is not None and real.available < halves * num:
        n = real.available // halves
        warnings.warn(
            f"{real.description} has {real.available} images: using {n} per set "
            f"instead of {num}",
            RuntimeWarning,
            stacklevel=2,
        )
    if n < 2:
        raise ValueError(f"need at least 2 images per set, got {n}")
    if fake is not None and fake.image_size != real.image_size:
        raise ValueError(f"image sizes differ: {fake.image_size} vs {real.image_size}")

    def new_set(set_seed: int) -> FeatureSet:
        return FeatureSet(
            extractor,
            real.image_size,
            set_metrics,
            seed=set_seed,
            swd_max_descriptors=swd_max_descriptors,
            feature_batch_size=min(batch_size, 64),
        )

    timings: dict[str, float] = {}
    reference = new_set(seed)
    second = new_set(seed + 2) if real_vs_real else None
    vae_stats = VAEStats(vae, seed=seed) if "vae" in metrics else None

    start = time.perf_counter()
    with _progress(halves * n, "real", progress) as bar:
        seen = 0
        for batch in real.batches(halves * n, batch_size):
            # The first n images form the reference set, the next n the second
            # half: a batch may straddle the boundary.
            cut = max(0, min(len(batch), n - seen))
            if cut:
                if set_metrics:
                    reference.update(batch[:cut])
                if vae_stats is not None:
                    vae_stats.update(batch[:cut])
            if cut < len(batch) and second is not None and set_metrics:
                second.update(batch[cut:])
            seen += len(batch)
            bar.update(len(batch))
    timings["real_images"] = time.perf_counter() - start

    result: dict[str, Any] = {"num_images": n, "metrics": metrics}
    generated = None
    if fake is not None and set_metrics:
        generated = new_set(seed + 1)
        start = time.perf_counter()
        with _progress(n, "generated", progress) as bar:
            for batch in fake.batches(n, batch_size):
                generated.update(batch)
                bar.update(len(batch))
        timings["generated_images"] = time.perf_counter() - start

    compare_kwargs = dict(
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, pr_k=pr_k, seed=seed
    )
    if generated is not None:
        values, seconds = compare(reference, generated, set_metrics, **compare_kwargs)
        result["model"] = values
        timings.update({f"model_{k}": v for k, v in seconds.items()})
    if second is not None and set_metrics:
        values, seconds = compare(reference, second, set_metrics, **compare_kwargs)
        result["real_vs_real"] = values
        timings.update({f"floor_{k}": v for k, v in seconds.items()})
    if vae_stats is not None:
        result["vae"] = vae_stats.result()

    sets = [s for s in (reference, second, generated) if s is not None]
    # What was actually read: a folder can hold files that fail to decode.
    named = (
        ("real", reference),
        ("real_second_half", second),
        ("generated", generated),
    )
    result["set_sizes"] = {
        name: s.count for name, s in named if s is not None and set_metrics
    }
    timings["features"] = sum(s.seconds["features"] for s in sets)
    timings["swd_descriptors"] = sum(s.seconds["swd"] for s in sets)
    notes = []
    if extractor is not None:
        result["features"] = extractor.describe()
        if not extractor.comparable:
            notes.append(extractor.note)
    if "vae" in metrics:
        notes.append(VAE_NOTE)
    if "swd" in set_metrics:
        notes.append(
            "swd values are sliced Wasserstein distances x 1e3 on Laplacian "
            "pyramid 7x7 patches (Karras et al. 2018), per level and averaged"
        )
    result["real"] = real.description
    if fake is not None:
        result["generated"] = fake.description
    result["image_size"] = real.image_size
    result["notes"] = notes
    result["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    result["wall_time_s"] = round(time.perf_counter() - start_all, 3)
    return result


def evaluate_model(
    model: Any,
    data: str,
    *,
    num: int = 10_000,
    metrics: str | Sequence[str] | None = None,
    real_vs_real: bool = False,
    image_size: int | None = None,
    latent_seed: int = 0,
    use_ema: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Evaluate a keras-gen model (object or ``.keras`` path) against ``data``.

    Args:
        model: a ``GAN``/``VAE``, the path of its ``.keras`` file, or None for
            a real-vs-real floor only (then ``image_size`` is required).
        data: a ``--data`` spec (see :func:`real_source`).
        num: images per set.
        metrics: metric groups; default ``fid,kid,swd,pr`` plus ``vae`` for
            a VAE.
        real_vs_real: also report the floor between two halves of ``data``.
        image_size: image side when there is no model.
        latent_seed: image i of the model decodes the latent of seed
            ``latent_seed + i``.
        use_ema: evaluate a GAN's EMA generator when it has one (False: the
            trained generator itself; the EMA is a passive copy, so this is
            the model the same run would give without EMA).
        **kwargs: passed to :func:`evaluate`.

    Returns:
        The result dict of :func:`evaluate`, plus ``model_path`` and timing.
    """
    path = fake = None
    if isinstance(model, str | os.PathLike):
        from keras_gen.inference import load_generator, resolve_model_path

        path = resolve_model_path(model)
        if path.suffix == ".keras":
            model = load_generator(path, compile=False)
        else:
            fake, model = saved_model_source(path, seed=latent_seed), None
    is_vae = (
        model is not None and hasattr(model, "encode") and hasattr(model, "decoder")
    )
    if metrics is None:
        metrics = ["fid", "kid", "swd", "pr", "flat"] + (["vae"] if is_vae else [])
    metrics = parse_metrics(metrics)
    if "vae" in metrics and not is_vae:
        raise ValueError("the 'vae' metrics need a VAE model")
    if not use_ema and getattr(model, "ema_generator", None) is not None:
        model.ema_generator = None
    if model is not None:
        fake = generated_source(model, seed=latent_seed)
    if fake is None and image_size is None:
        raise ValueError("without a model, give the image size (--image-size)")
    size = fake.image_size if fake is not None else int(image_size)
    real = real_source(data, size)
    result = evaluate(
        real,
        fake,
        num=num,
        metrics=metrics,
        real_vs_real=real_vs_real,
        vae=model if "vae" in metrics else None,
        **kwargs,
    )
    result["model_path"] = str(path) if path else None
    result["data"] = data
    return result


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per metric, columns model and real-vs-real floor."""
    columns = [c for c in ("model", "real_vs_real") if c in result]
    headers = {"model": "model vs real", "real_vs_real": "real vs real (floor)"}
    keys: list[str] = []
    for c in columns:
        keys += [k for k in result[c] if k not in keys and k != "kid_std"]
    rows = []
    for key in keys:
        cells = []
        for c in columns:
            value = result[c].get(key)
            cell = _fmt(value)
            if key == "kid_mean" and value is not None:
                cell += f" ± {_fmt(result[c].get('kid_std'))}"
            cells.append(cell)
        rows.append([key.replace("kid_mean", "kid"), *cells])
    for key, value in result.get("vae", {}).items():
        rows.append([key, _fmt(value), *([""] * (len(columns) - 1))])
    header = (
        ["metric", *(headers[c] for c in columns)] if columns else ["metric", "VAE"]
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.append(
        f"{result['num_images']} images per set, {result['image_size']}px, "
        f"features: {result.get('features', {}).get('name', '-')}, "
        f"{result['wall_time_s']:.1f} s"
    )
    lines += [f"note: {n}" for n in result.get("notes", [])]
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the result (plus versions) as indented JSON; returns the path."""
    import keras

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(result)
    payload.setdefault(
        "environment",
        {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "cpu_count": os.cpu_count(),
        },
    )
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path
