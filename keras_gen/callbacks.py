"""Keras callbacks for generative training: samples, KL schedules, diagnostics."""

from __future__ import annotations

import csv
from pathlib import Path

import keras
import numpy as np

from keras_gen.models.base import images_to_uint8, latents_from_seeds
from keras_gen.utils.images import save_image_grid, tile_images


def summarise_grid(writer, log_dir, tag: str, images: np.ndarray, step: int, **kw):
    """Writes `images` tiled as one TensorBoard image; returns the (new) writer.

    Args:
        writer: the `tf.summary` writer of an earlier call, or None.
        log_dir: folder of the event file (used when `writer` is None).
        tag: the image's name in TensorBoard.
        images: uint8 `[N, H, W, C]`.
        step: the x axis (the epoch number).
        **kw: passed to `tile_images` (e.g. `columns`).
    """
    import tensorflow as tf

    if writer is None:
        writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        tf.summary.image(tag, tile_images(images, **kw)[None], step=step)
    writer.flush()
    return writer


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG grid of images decoded from fixed latents every `every` epochs.

    The latents come from seeds 0..num_images-1 (as the exported `generate`
    signature), so grids of successive epochs show the same latent points.

    Args:
        directory: where `samples_epoch_NNN.png` files go.
        num_images: images in the grid.
        every: epochs between grids.
        scale: pixel repetition of the PNG (2 makes 64px rooms easier to see).
        log_dir: if given, each grid is also written there as a TensorBoard
            image summary (tag `samples`, step = epoch number).

    Example:
    >>> cb = SampleGrid("runs/demo/samples", num_images=16)
    >>> # model.fit(data, epochs=5, callbacks=[cb])
    """

    def __init__(
        self,
        directory,
        num_images: int = 64,
        every: int = 1,
        scale: int = 1,
        log_dir=None,
    ):
        super().__init__()
        self.directory = Path(directory)
        self.num_images = num_images
        self.every = every
        self.scale = scale
        self.log_dir = log_dir
        self._writer = None
        self.paths: list[Path] = []

    def _write(self, tag: str) -> np.ndarray:
        z = latents_from_seeds(np.arange(self.num_images), self.model.latent_dim)
        labels = self.model.class_ids(None, self.num_images)
        if labels is not None:
            # One class per column of the (square) grid: images of a class
            # line up, so a class the generator ignores is easy to spot.
            columns = int(np.ceil(np.sqrt(self.num_images)))
            labels = (np.arange(self.num_images) % columns) % self.model.num_classes
            z = [z, keras.ops.convert_to_tensor(labels, "int32")]
        images = self.model.decode_latents(z, training=False)
        images = images_to_uint8(images, self.model.value_range)
        path = self.directory / f"samples_{tag}.png"
        save_image_grid(images, path, scale=self.scale)
        self.paths.append(path)
        return images

    def _summarise(self, images: np.ndarray, step: int) -> None:
        self._writer = summarise_grid(
            self._writer, self.log_dir, "samples", images, step
        )

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            images = self._write(f"epoch_{epoch + 1:03d}")
            if self.log_dir is not None:
                self._summarise(images, epoch + 1)


class KeepCheckpoints(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint` to `epoch_NNN.keras`, every `every` epochs, all kept.

    One run can then be evaluated at several training budgets (the learning
    rate is constant, so the model after epoch k is what a k-epoch run would
    have given). Counted in epochs from the run's start, so a resumed run
    saves at the same epochs as an uninterrupted one.

    Args:
        directory: folder of the files.
        every: epochs between two saves.

    Example:
    >>> cb = KeepCheckpoints("runs/demo/checkpoints", every=10)
    """

    def __init__(self, directory, every: int):
        super().__init__(str(Path(directory) / "epoch_{epoch:03d}.keras"))
        self.directory = Path(directory)
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            super().on_epoch_end(epoch, logs)


class ReconstructionGrid(keras.callbacks.Callback):
    """Writes inputs (odd rows) above their VAE reconstructions (even rows).

    Args:
        images: a fixed batch of real images in the VAE's value range [0, 1].
        labels: their class ids (conditional VAE), else None.
        directory: where `reconstructions_epoch_NNN.png` files go.
        every: epochs between grids.
        scale: pixel repetition of the PNG.
    """

    def __init__(
        self, images, labels=None, directory=".", every: int = 1, scale: int = 1
    ):
        super().__init__()
        self.images = np.asarray(images, dtype=np.float32)
        self.labels = None if labels is None else np.asarray(labels, np.int32)
        self.directory = Path(directory)
        self.every = every
        self.scale = scale
        self.paths: list[Path] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        recon = np.asarray(self.model.reconstruct(self.images, labels=self.labels))
        columns = min(8, len(self.images))
        rows = []
        for start in range(0, len(self.images), columns):
            rows.append(self.images[start : start + columns])
            rows.append(recon[start : start + columns])
        grid = images_to_uint8(np.concatenate(rows), self.model.value_range)
        path = self.directory / f"reconstructions_epoch_{epoch + 1:03d}.png"
        save_image_grid(grid, path, columns=columns, scale=self.scale)
        self.paths.append(path)


class DenoiseGrid(keras.callbacks.Callback):
    """Writes noisy / denoised / clean rows of fixed images every `every` epochs.

    The noise is drawn once (seeded), so successive grids differ only by the
    model: the denoiser's progress at one noise level a person can judge.

    Args:
        images: clean images in [0, 1], `[N, H, W, C]` (up to 8 are shown).
        sigma: standard deviation of the Gaussian noise added to them.
        directory: where `denoised_epoch_NNN.png` files go.
        every: epochs between grids.
        scale: pixel repetition of the PNG.
        log_dir: if given, each grid is also a TensorBoard image (`denoised`).
        seed: seed of the noise.

    Example:
    >>> cb = DenoiseGrid(np.random.rand(8, 32, 32, 3), 0.1, "runs/dae/samples")
    """

    def __init__(
        self,
        images,
        sigma: float,
        directory=".",
        every=1,
        scale=1,
        log_dir=None,
        seed=0,
    ):
        super().__init__()
        self.clean = np.asarray(images, dtype=np.float32)[:8]
        noise = np.random.default_rng(seed).normal(0.0, sigma, self.clean.shape)
        self.noisy = np.clip(self.clean + noise, 0.0, 1.0).astype(np.float32)
        self.directory = Path(directory)
        self.every = every
        self.scale = scale
        self.log_dir = log_dir
        self._writer = None
        self.paths: list[Path] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        denoised = np.asarray(self.model.denoise(self.noisy))
        rows = np.concatenate([self.noisy, denoised, self.clean])
        grid = images_to_uint8(rows, (0.0, 1.0))
        path = self.directory / f"denoised_epoch_{epoch + 1:03d}.png"
        save_image_grid(grid, path, columns=len(self.clean), scale=self.scale)
        self.paths.append(path)
        if self.log_dir is not None:
            self._writer = summarise_grid(
                self._writer,
                self.log_dir,
                "denoised",
                grid,
                epoch + 1,
                columns=len(self.clean),
            )


class KLWarmup(keras.callbacks.Callback):
    """Linear KL warm-up: the VAE's `kl_weight` goes from 0 to 1 over `steps` steps.

    Starting with a small KL weight lets the decoder learn to use the latents
    before the KL term pulls the posterior to the prior (avoids posterior
    collapse early in training).

    Args:
        steps: number of optimizer steps to reach the full KL weight.
    """

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def _update(self):
        step = int(self.model.optimizer.iterations.numpy())
        self.model.kl_weight.assign(min(1.0, step / self.steps) if self.steps else 1.0)

    def on_train_begin(self, logs=None):
        self._update()

    def on_train_batch_begin(self, batch, logs=None):
        self._update()


def cyclical_kl_weight(step: int, cycle_steps: int, ratio: float = 0.5) -> float:
    """KL weight of the cyclical schedule (Fu et al. 2019) at optimizer step `step`.

    Each cycle of `cycle_steps` steps rises linearly from 0 to 1 over its first
    `ratio` fraction and stays at 1 for the rest; then it starts again at 0.
    """
    position = (step % cycle_steps) / cycle_steps
    return min(1.0, position / ratio) if ratio > 0 else 1.0


class CyclicalKL(keras.callbacks.Callback):
    """Cyclical KL schedule: the VAE's `kl_weight` ramps 0 -> 1 once per cycle.

    Repeated annealing lets the decoder rediscover the latents after each
    reset, which reduces KL vanishing (Fu et al., NAACL 2019). The weight is
    a function of the optimizer's step count, so a resumed run continues the
    schedule where it stopped.

    Args:
        cycle_steps: optimizer steps per cycle.
        ratio: fraction of each cycle spent rising (the rest is at 1).

    Example:
    >>> cb = CyclicalKL(cycle_steps=1000, ratio=0.5)
    >>> # vae.fit(data, epochs=10, callbacks=[cb])
    """

    def __init__(self, cycle_steps: int, ratio: float = 0.5):
        super().__init__()
        if cycle_steps < 1 or not 0.0 <= ratio <= 1.0:
            raise ValueError(
                f"cycle_steps must be >= 1 and ratio in [0, 1], got "
                f"{cycle_steps}, {ratio}"
            )
        self.cycle_steps = cycle_steps
        self.ratio = ratio

    def _update(self):
        step = int(self.model.optimizer.iterations.numpy())
        self.model.kl_weight.assign(
            cyclical_kl_weight(step, self.cycle_steps, self.ratio)
        )

    def on_train_begin(self, logs=None):
        self._update()

    def on_train_batch_begin(self, batch, logs=None):
        self._update()


def active_units(z_means: np.ndarray, threshold: float = 0.01) -> int:
    """Active latent units (Burda et al. 2016): dims with Cov_x(E_q[z|x]) > threshold.

    Args:
        z_means: posterior means `[N, latent_dim]` of N images.
        threshold: variance above which a dimension counts as used.
    """
    z_means = np.asarray(z_means, dtype=np.float64)
    if z_means.ndim != 2 or len(z_means) < 2:
        raise ValueError(
            f"expected posterior means [N >= 2, latent_dim], got {z_means.shape}"
        )
    return int(np.sum(np.var(z_means, axis=0) > threshold))


class LatentDiagnostics(keras.callbacks.Callback):
    """Adds `active_units` (and, optionally, the KL weight) to the epoch logs.

    Computed on a fixed batch of images (a validation batch when there is
    one), so successive epochs are comparable. Place it before `CSVLogger`
    in the callback list so that the CSV gets the column.

    Args:
        images: fixed images in the VAE's value range, `[N, H, W, C]`, N >= 2.
        labels: their class ids (conditional VAE), else None.
        threshold: variance threshold of `active_units`.
        batch_size: images encoded per call.

    Example:
    >>> cb = LatentDiagnostics(validation_images)  # doctest: +SKIP
    """

    def __init__(
        self, images, labels=None, threshold: float = 0.01, batch_size: int = 256
    ):
        super().__init__()
        self.images = np.asarray(images, dtype=np.float32)
        self.labels = None if labels is None else np.asarray(labels, np.int32)
        self.threshold = threshold
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        step = self.batch_size
        means = [
            np.asarray(
                self.model.encode(
                    self.images[i : i + step],
                    labels=None if self.labels is None else self.labels[i : i + step],
                )[0]
            )
            for i in range(0, len(self.images), step)
        ]
        logs["active_units"] = float(
            active_units(np.concatenate(means), self.threshold)
        )
        logs["kl_weight"] = float(self.model.kl_weight.numpy())


class LearningRates(keras.callbacks.Callback):
    """Adds each optimizer's learning rate to the epoch's logs.

    `learning_rate` for one optimizer, `d_learning_rate` and
    `g_learning_rate` for a GAN's two, so that the CSV, the plot and
    TensorBoard show them (a schedule's current value included). Place it
    before the loggers.
    """

    NAMES = {
        "optimizer": "learning_rate",
        "d_optimizer": "d_learning_rate",
        "g_optimizer": "g_learning_rate",
    }

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for attribute, key in self.NAMES.items():
            optimizer = getattr(self.model, attribute, None)
            # A GAN compiles with optimizer=None: only its two are found.
            rate = getattr(optimizer, "learning_rate", None)
            if rate is not None:
                logs[key] = float(np.asarray(keras.ops.convert_to_numpy(rate)))


class SqueezeLogs(keras.callbacks.Callback):
    """Turns shape-(1,) logs (multi-worker workaround) back into floats.

    First in the callback list: later callbacks (CSV, progress bar, History)
    share the same dict and then see plain numbers.
    """

    @staticmethod
    def _squeeze(logs):
        for key, value in (logs or {}).items():
            if getattr(value, "shape", ()) == (1,):
                logs[key] = float(value[0])

    def on_train_batch_end(self, batch, logs=None):
        self._squeeze(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._squeeze(logs)


class MetricsCSV(keras.callbacks.Callback):
    """One row per epoch in a CSV: `epoch` counted from 1, as the sample grids
    and checkpoints are, then the metrics that were logged.

    Unlike `keras.callbacks.CSVLogger` it adds no `val_*` columns that stay
    empty when there is no validation data. The file is opened, appended
    and closed at every epoch, so a killed run leaves whole rows (a row cut
    by the kill is dropped on resume). A resumed run keeps the header of
    the file; a metric missing from an epoch is written `NA`.

    Args:
        path: the CSV file.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def _header(self, logs: dict) -> list[str]:
        if self.path.is_file() and self.path.stat().st_size:
            with self.path.open(newline="") as f:
                return next(csv.reader(f))
        header = ["epoch", *sorted(logs)]
        with self.path.open("w", newline="") as f:
            csv.writer(f).writerow(header)
        return header

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in (logs or {}).items()}
        header = self._header(logs)
        row = [epoch + 1] + [logs.get(k, "NA") for k in header[1:]]
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow(row)


def flat_hparams(config: dict, prefix: str = "") -> dict:
    """A nested config as `{"train.batch_size": 64, ...}` of scalars only."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_hparams(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        elif value is not None:
            flat[name] = str(value)
    return flat


def log_hparams(log_dir, config: dict) -> None:
    """Write a run's settings to TensorBoard's HParams tab (one record)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    with tf.summary.create_file_writer(str(log_dir)).as_default():
        hp.hparams(flat_hparams(config))
