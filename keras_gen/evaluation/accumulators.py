"""What the metrics need from an image set, accumulated batch by batch.

Images flow through in batches and are dropped after use: what is kept per
image set (:class:`FeatureSet`) is its features' running mean and covariance
(FID), the features themselves (KID and precision/recall: 10,000 x 2048
float32 = 80 MB), a bounded reservoir of SWD patch descriptors and a count
of flat squares. :func:`compare` turns two sets into distances;
:class:`VAEStats` accumulates a VAE's reconstruction and ELBO on real images.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_gen.evaluation.artifacts import flat_square_sides
from keras_gen.evaluation.features import FeatureExtractor
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
    "VAE_NOTE",
    "FeatureSet",
    "VAEStats",
    "compare",
    "parse_metrics",
]

#: Metric groups: FID, KID, sliced Wasserstein, precision/recall, the
#: fraction of images with a flat square (leaked cutout), VAE reconstruction
#: (PSNR/SSIM) and negative ELBO.
ALL_METRICS = ("fid", "kid", "swd", "pr", "flat", "vae")
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
