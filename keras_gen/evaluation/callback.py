"""`MetricsCallback`: FID, KID, SWD, precision/recall during `fit`."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_gen.evaluation.blas import limit_blas_threads
from keras_gen.evaluation.evaluate import (
    FeatureSet,
    ImageSource,
    array_source,
    compare,
    generated_source,
    parse_metrics,
    real_source,
)
from keras_gen.evaluation.features import FeatureExtractor, get_feature_extractor
from keras_gen.utils.console import log

__all__ = ["MetricsCallback"]


class MetricsCallback(keras.callbacks.Callback):
    """Adds generative metrics to the epoch logs every `every` epochs.

    The real set's statistics are computed once (at the first evaluation) and
    reused; the generated images come from the same latent seeds every time,
    so successive values differ because the model changed, not the sample.
    The values are written into `logs`, so `History`, `CSVLogger` and
    `TensorBoard` record them -- provided this callback comes BEFORE them in
    the callback list (Keras calls callbacks in list order; the `History`
    callback `fit` adds itself always runs after the user's callbacks).

    Keys: `fid`, `kid` (mean over subsets), `swd` (mean over levels),
    `precision`, `recall`, each with `prefix`. On epochs without evaluation
    the keys hold NaN, so that every epoch has the same columns: `CSVLogger`
    fixes its columns at the first epoch, and `History` lists stay aligned
    with epochs.

    The defaults are cheap (1000 images, the shipped room-classifier
    features, FID and KID: a few seconds at 64x64 on 2 CPU cores); with
    `features="inception"` or SWD, expect minutes per evaluation.

    Args:
        real_data: real images: a uint8 array `[N, S, S, 3]`, a `--data` spec
            string (`"rooms:2000"`, a folder), or a `tf.data.Dataset` of
            image batches in the model's value range (e.g. the training
            dataset; its first `num_images` images are used).
        metrics: metric groups: `"fid"`, `"kid"`, `"swd"`, `"pr"`.
        every: evaluate after every `every`-th epoch (and the last one).
        num_images: images per set.
        features: feature extractor or its name (see `get_feature_extractor`).
        batch_size: images per batch.
        kid_subsets, kid_subset_size: KID subsets (defaults: 10 of 1000).
        monitor: metric whose best (lowest) value triggers saving `best_path`.
        best_path: where to save the best model (`.keras`), or None.
        prefix: prefix of the log keys (e.g. `"val_"`).
        latent_seed: first latent seed of the generated images.
        verbose: print the values after each evaluation.
        blas_threads: OpenBLAS threads during the evaluation (see
            `keras_gen.evaluation.blas`); None leaves them alone.

    Example:
    >>> cb = MetricsCallback("rooms:1000", metrics=("fid", "kid"), every=2,
    ...                      best_path="runs/x/best.keras")
    >>> # model.fit(ds, epochs=10, callbacks=[cb, keras.callbacks.CSVLogger("m.csv")])
    """

    def __init__(
        self,
        real_data: np.ndarray | str | tf.data.Dataset,
        metrics: tuple[str, ...] | list[str] | str = ("fid", "kid"),
        every: int = 1,
        num_images: int = 1000,
        features: str | FeatureExtractor = "rooms",
        batch_size: int = 100,
        kid_subsets: int = 10,
        kid_subset_size: int = 1000,
        monitor: str = "fid",
        best_path: str | Path | None = None,
        prefix: str = "",
        latent_seed: int = 0,
        verbose: int = 1,
        blas_threads: int | None = 1,
    ):
        super().__init__()
        if every < 1 or num_images < 2:
            raise ValueError("every must be >= 1 and num_images >= 2")
        self.real_data = real_data
        self.metric_groups = [m for m in parse_metrics(metrics) if m != "vae"]
        self.every = every
        self.num_images = num_images
        self.features = features
        self.batch_size = batch_size
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.monitor = monitor
        self.best_path = Path(best_path) if best_path else None
        self.prefix = prefix
        self.latent_seed = latent_seed
        self.verbose = verbose
        self.blas_threads = blas_threads
        self.best = math.inf
        self.best_epoch: int | None = None
        self.history: list[dict[str, Any]] = []
        self._extractor: FeatureExtractor | None = None
        self._real: FeatureSet | None = None
        keys = {
            "fid": ["fid"],
            "kid": ["kid"],
            "swd": ["swd"],
            "pr": ["precision", "recall"],
        }
        self.keys = [k for m in self.metric_groups for k in keys[m]]
        if self.best_path is not None and monitor not in self.keys:
            raise ValueError(f"monitor {monitor!r} is not among the logged {self.keys}")

    # ------------------------------------------------------------------ data
    def _real_source(self, image_size: int) -> ImageSource:
        data = self.real_data
        if isinstance(data, str):
            return real_source(data, image_size)
        if isinstance(data, tf.data.Dataset):
            from keras_gen.data.pipeline import from_value_range
            from keras_gen.models.base import images_from_data

            value_range = self.model.value_range
            chunks, have = [], 0
            for batch in data:
                images = np.asarray(
                    from_value_range(images_from_data(batch), value_range)
                )
                chunks.append(images[: self.num_images - have])
                have += len(chunks[-1])
                if have >= self.num_images:
                    break
            return array_source(np.concatenate(chunks), "tf.data.Dataset")
        return array_source(np.asarray(data), "array")

    def _new_set(self, image_size: int, seed: int) -> FeatureSet:
        return FeatureSet(
            self._extractor,
            image_size,
            self.metric_groups,
            seed=seed,
            feature_batch_size=min(self.batch_size, 64),
        )

    def _fill(self, feature_set: FeatureSet, source: ImageSource) -> None:
        for batch in source.batches(self.num_images, self.batch_size):
            feature_set.update(batch)

    # ----------------------------------------------------------- evaluation
    def evaluate(self) -> dict[str, float]:
        """Compute the metrics for the current model (also usable outside `fit`)."""
        with limit_blas_threads(self.blas_threads):
            return self._evaluate()

    def _evaluate(self) -> dict[str, float]:
        fake = generated_source(self.model, seed=self.latent_seed)
        if self._extractor is None and {"fid", "kid", "pr"} & set(self.metric_groups):
            self._extractor = get_feature_extractor(self.features)
        if self._real is None:
            source = self._real_source(fake.image_size)
            self._real = self._new_set(fake.image_size, seed=0)
            self._fill(self._real, source)
        generated = self._new_set(fake.image_size, seed=1)
        self._fill(generated, fake)
        values, _ = compare(
            self._real,
            generated,
            self.metric_groups,
            kid_subsets=self.kid_subsets,
            kid_subset_size=self.kid_subset_size,
        )
        out = {
            "fid": values.get("fid"),
            "kid": values.get("kid_mean"),
            "swd": values.get("swd_mean"),
            "precision": values.get("precision"),
            "recall": values.get("recall"),
        }
        return {k: float(out[k]) for k in self.keys}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        last = self.params.get("epochs") if self.params else None
        due = (epoch + 1) % self.every == 0 or (last is not None and epoch + 1 == last)
        if not due:
            for key in self.keys:
                logs[self.prefix + key] = float("nan")
            return
        start = time.perf_counter()
        values = self.evaluate()
        for key, value in values.items():
            logs[self.prefix + key] = value
        self.history.append({"epoch": epoch, **values})
        seconds = time.perf_counter() - start
        line = ", ".join(f"{self.prefix}{k}={v:.4g}" for k, v in values.items())
        if self.verbose:
            log.info(f"epoch {epoch + 1} metrics: {line} ({seconds:.1f} s)")
        value = values.get(self.monitor)
        if value is not None and value < self.best:
            self.best, self.best_epoch = value, epoch
            if self.best_path is not None:
                self.best_path.parent.mkdir(parents=True, exist_ok=True)
                self.model.save(self.best_path)
                if self.verbose:
                    log.info(
                        f"best {self.prefix}{self.monitor} so far: "
                        f"saved {self.best_path}"
                    )
