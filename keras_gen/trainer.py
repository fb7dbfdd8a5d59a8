"""Build data, model and callbacks from a `Config` and run `model.fit`.

`train(config)` is what `keras-gen train` and `python -m training.train` call.
A run writes into its work directory (`runs/<name>/` by default):

- `config.yaml`: the exact settings used,
- `samples/samples_epoch_NNN.png`: images from fixed latents after each epoch,
- `samples/reconstructions_epoch_NNN.png` (VAE): inputs above reconstructions,
- `metrics.csv` and `metrics.png`: the metrics per epoch, as a table and a plot,
- `logs/`: TensorBoard event files,
- `model.keras`: the model with both optimizers, for `keras.saving.load_model`,
- `backup/`: the state `keras-gen train` resumes from after a crash (removed
  when the run finishes),

and a SavedModel of the generator (GAN) or decoder (VAE) into
`<export_dir>/<name>/<version>/` for TensorFlow Serving.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_gen.callbacks import KLWarmup, ReconstructionGrid, SampleGrid
from keras_gen.config import Config, ConfigError, OptimizerConfig, save_config
from keras_gen.export import export_generator
from keras_gen.models.base import GenerativeModel
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.gan.gan import GAN
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder
from keras_gen.models.vae.vae import VAE
from keras_gen.utils.images import plot_metrics, read_metrics_csv

log = logging.getLogger("keras_gen")


@dataclasses.dataclass
class TrainResult:
    """Where a finished run put its artefacts."""

    work_dir: Path
    model_path: Path
    export_path: Path | None
    samples: list[Path]
    metrics_csv: Path
    metrics_plot: Path
    history: dict[str, list[float]]
    seconds: float
    images_seen: int


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy for `train.distribute`.

    "auto" mirrors over all local GPUs when there are at least two and
    otherwise uses the default (single-device) strategy; "mirrored" always
    uses `MirroredStrategy` (over the CPU if there is no GPU); "none" is the
    default strategy.
    """
    if kind == "none":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored" or (kind == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def make_optimizer(cfg: OptimizerConfig) -> keras.optimizers.Optimizer:
    """A Keras optimizer from its config."""
    if cfg.name == "adam":
        return keras.optimizers.Adam(
            cfg.learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2
        )
    if cfg.name == "adamw":
        return keras.optimizers.AdamW(
            cfg.learning_rate,
            weight_decay=cfg.weight_decay or 0.004,
            beta_1=cfg.beta_1,
            beta_2=cfg.beta_2,
        )
    if cfg.name == "rmsprop":
        return keras.optimizers.RMSprop(cfg.learning_rate)
    return keras.optimizers.SGD(cfg.learning_rate)


def build_model(config: Config, synchronized_bn: bool = False) -> GenerativeModel:
    """An uncompiled `GAN` or `VAE` as the config describes."""
    m = config.model
    if m.type == "gan":
        return GAN(
            build_dcgan_generator(
                m.image_size,
                m.latent_dim,
                m.width,
                synchronized_bn=synchronized_bn,
                seed=m.seed,
            ),
            build_dcgan_discriminator(
                m.image_size,
                m.width,
                synchronized_bn=synchronized_bn,
                seed=None if m.seed is None else m.seed + 1,
            ),
            loss=m.loss,
            gradient_penalty_weight=m.gradient_penalty_weight,
            seed=m.seed,
        )
    return VAE(
        build_vae_encoder(m.image_size, m.latent_dim, m.width),
        build_vae_decoder(m.image_size, m.latent_dim, m.width),
        beta=m.beta,
        likelihood=m.likelihood,
        gaussian_sigma=m.gaussian_sigma,
        seed=m.seed,
    )


def compile_model(model: GenerativeModel, config: Config) -> None:
    """Compile with the configured optimizers (call inside the strategy scope)."""
    t = config.train
    kwargs: dict[str, Any] = {
        "steps_per_execution": t.steps_per_execution,
        "jit_compile": t.jit_compile,
    }
    if isinstance(model, GAN):
        model.compile(
            d_optimizer=make_optimizer(t.d_optimizer or t.optimizer),
            g_optimizer=make_optimizer(t.g_optimizer or t.optimizer),
            **kwargs,
        )
    else:
        model.compile(optimizer=make_optimizer(t.optimizer), **kwargs)


def build_dataset(
    config: Config,
    value_range: tuple[float, float],
    batch_size: int,
    training: bool = True,
) -> tf.data.Dataset:
    """The training `tf.data.Dataset` of float images in `value_range`."""
    from keras_gen.data.pipeline import finalize_dataset

    d = config.data
    size = config.model.image_size
    if d.source == "rooms":
        from keras_gen.data.rooms import render_rooms

        cache_dir = (
            os.path.expanduser(d.render_cache_dir) if d.render_cache_dir else None
        )
        images, _ = render_rooms(
            d.num_images, size=size, seed=d.seed, cache_dir=cache_dir, progress=True
        )
        ds = tf.data.Dataset.from_tensor_slices(images)
        # Already decoded in memory: a tf.data cache would only copy it.
        ds = finalize_dataset(
            ds,
            batch_size=batch_size,
            value_range=value_range,
            training=training,
            shuffle_buffer=d.shuffle_buffer,
            cache=False,
            flip=d.flip,
            seed=d.seed,
        )
        options = tf.data.Options()
        # Generated in memory, there are no files to shard by.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return ds.with_options(options)
    from keras_gen.data.folder import image_folder_dataset

    return image_folder_dataset(
        d.path,
        image_size=size,
        batch_size=batch_size,
        value_range=value_range,
        training=training,
        shuffle_buffer=d.shuffle_buffer,
        cache=d.cache,
        flip=d.flip,
        seed=d.seed,
        check=d.check,
    )


def resolve_work_dir(config: Config, work_dir: str | Path | None = None) -> Path:
    return Path(work_dir or config.output.work_dir.format(name=config.name))


def train(config: Config, work_dir: str | Path | None = None) -> TrainResult:
    """Train the model a config describes, resuming an interrupted run.

    Args:
        config: a validated `Config`.
        work_dir: overrides `config.output.work_dir`.

    Returns:
        A `TrainResult` naming every artefact written.
    """
    start = time.perf_counter()
    work_dir = resolve_work_dir(config, work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, work_dir / "config.yaml")
    backup_dir = work_dir / "backup"
    resuming = backup_dir.exists()
    metrics_csv = work_dir / "metrics.csv"
    if not resuming and metrics_csv.exists():
        metrics_csv.unlink()  # a new run, not the continuation of the old one

    keras.utils.set_random_seed(config.train.seed)
    strategy = make_strategy(config.train.distribute)
    replicas = strategy.num_replicas_in_sync
    batch_size = config.train.batch_size
    if batch_size % replicas:
        raise ConfigError(
            f"train.batch_size ({batch_size}) must be divisible by the number "
            f"of replicas ({replicas})."
        )
    print(
        f"[keras-gen] {config.name}: {config.model.type} {config.model.image_size}px, "
        f"global batch {batch_size} = {replicas} replica(s) x {batch_size // replicas}"
    )

    with strategy.scope():
        model = build_model(config, synchronized_bn=replicas > 1)
        compile_model(model, config)
    dataset = build_dataset(config, model.value_range, batch_size)

    out = config.output
    samples_dir = work_dir / "samples"
    sample_grid = SampleGrid(samples_dir, out.num_samples, out.sample_every, scale=2)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        sample_grid,
        keras.callbacks.CSVLogger(str(metrics_csv), append=resuming),
        keras.callbacks.ModelCheckpoint(str(work_dir / "model.keras")),
        keras.callbacks.TerminateOnNaN(),
    ]
    recon_grid = None
    if isinstance(model, VAE):
        fixed = next(iter(dataset.unbatch().batch(16).take(1)))
        recon_grid = ReconstructionGrid(fixed, samples_dir, out.sample_every, scale=2)
        callbacks.append(recon_grid)
        if config.model.kl_warmup_steps:
            callbacks.append(KLWarmup(config.model.kl_warmup_steps))
    if out.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(work_dir / "logs")))

    history = model.fit(
        dataset,
        epochs=config.train.epochs,
        steps_per_epoch=config.train.steps_per_epoch,
        callbacks=callbacks,
        verbose=out.verbose,
        shuffle=False,  # the dataset shuffles itself
    )
    model_path = work_dir / "model.keras"
    model.save(model_path)
    metrics = read_metrics_csv(metrics_csv) if metrics_csv.exists() else history.history
    metrics_plot = plot_metrics(metrics, work_dir / "metrics.png", title=config.name)
    export_path = None
    if out.export_dir:
        export_path = export_generator(model, out.export_dir, config.name)
    samples = sorted(samples_dir.glob("*.png"))
    steps = int(
        (
            model.g_optimizer if isinstance(model, GAN) else model.optimizer
        ).iterations.numpy()
    )
    result = TrainResult(
        work_dir=work_dir,
        model_path=model_path,
        export_path=export_path,
        samples=samples,
        metrics_csv=metrics_csv,
        metrics_plot=metrics_plot,
        history=metrics,
        seconds=time.perf_counter() - start,
        images_seen=steps * batch_size,
    )
    print_summary(result)
    return result


def print_summary(result: TrainResult) -> None:
    last = {k: v[-1] for k, v in result.history.items() if k != "epoch" and v}
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(last.items()))
    print(
        f"[keras-gen] finished in {result.seconds:.0f} s, "
        f"{result.images_seen} images seen"
    )
    print(f"[keras-gen] final metrics: {metrics}")
    print(f"[keras-gen] samples:       {result.samples[-1] if result.samples else '-'}")
    print(f"[keras-gen] metrics:       {result.metrics_csv}, {result.metrics_plot}")
    print(f"[keras-gen] tensorboard:   tensorboard --logdir {result.work_dir / 'logs'}")
    print(f"[keras-gen] model:         {result.model_path}")
    if result.export_path:
        print(f"[keras-gen] SavedModel:    {result.export_path}")


__all__ = [
    "TrainResult",
    "build_dataset",
    "build_model",
    "compile_model",
    "make_optimizer",
    "make_strategy",
    "train",
]
