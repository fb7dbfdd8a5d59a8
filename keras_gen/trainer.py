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
  when the run finishes; see `keras_gen.checkpointing`),

and a SavedModel of the generator (GAN) or decoder (VAE) into
`<export_dir>/<name>/<version>/` for TensorFlow Serving.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_gen.callbacks import (
    CyclicalKL,
    DenoiseGrid,
    KeepCheckpoints,
    KLWarmup,
    LatentDiagnostics,
    LearningRates,
    MetricsCSV,
    ReconstructionGrid,
    SampleGrid,
    log_hparams,
)
from keras_gen.checkpointing import (
    StopOnNonFinite,
    TrainingBackup,
    list_backups,
    remove_backups,
    restore_latest,
    training_step,
)
from keras_gen.config import (
    AUTO_AUGMENT_BELOW,
    AUTO_AUGMENT_POLICY,
    Config,
    ConfigError,
    OptimizerConfig,
    save_config,
)
from keras_gen.export import export_generator, same_weights_version
from keras_gen.models.base import GenerativeModel
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.gan.gan import GAN
from keras_gen.models.gan.resnet import (
    build_resnet_discriminator,
    build_resnet_generator,
)
from keras_gen.models.vae.dae import DenoisingAutoencoder, build_dae_network
from keras_gen.models.vae.networks import VAE_ARCHITECTURES
from keras_gen.models.vae.vae import VAE
from keras_gen.precision import dtype_policy, resolve_precision
from keras_gen.utils.console import log
from keras_gen.utils.files import atomic_write_text
from keras_gen.utils.images import plot_metrics, read_metrics_csv
from keras_gen.utils.locks import FolderLock

#: Noise of the fixed images in a denoiser's grids (benchmarks/denoise.py's level).
DENOISE_GRID_SIGMA = 0.1


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
    model: GenerativeModel | None = None


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy for `train.distribute`.

    - "auto": `MultiWorkerMirroredStrategy` when `TF_CONFIG` names a cluster
      of several tasks, else `MirroredStrategy` over all local GPUs when there
      are at least two, else the default (single-device) strategy;
    - "mirrored": `MirroredStrategy` over the local GPUs (or the CPU);
    - "multi_worker": `MultiWorkerMirroredStrategy` (cluster from `TF_CONFIG`);
    - "tpu": `TPUStrategy` on the TPU found by `TPUClusterResolver`;
    - "none": the default strategy.
    """
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if kind == "multi_worker" or (kind == "auto" and _cluster_size() > 1):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored" or (kind == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _cluster_size() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as err:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {err}") from None
    return sum(len(tasks) for tasks in cluster.values())


def task_info(strategy: tf.distribute.Strategy) -> tuple[bool, int]:
    """(is this process the chief, its task index) in a multi-worker cluster.

    Only the chief writes samples, metrics, checkpoints and exports; every
    worker keeps its own backup folder (workers sharing one crash on file
    locks). Without a cluster the single process is the chief.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True, 0
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    jobs = resolver.cluster_spec().jobs
    chief = task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in jobs
    )
    return chief, task_id


def global_batch_size(config: Config, replicas: int) -> int:
    """The global batch of a run on `replicas` replicas (checked divisible)."""
    t = config.train
    if t.per_replica_batch_size is not None:
        return t.per_replica_batch_size * replicas
    if t.batch_size % replicas:
        raise ConfigError(
            f"train.batch_size ({t.batch_size}) must be divisible by the number "
            f"of replicas ({replicas}); or set train.per_replica_batch_size."
        )
    return t.batch_size


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


def class_names_of(config: Config) -> list[str] | None:
    """Class names of the configured data's labels (None without `data.labels`).

    Found without building the input pipeline (a folder is only listed), so
    the model can be built with the right number of classes first.
    """
    d = config.data
    if d.labels is None:
        return None
    if d.source == "rooms":
        from keras_gen.data.rooms import class_names

        return list(class_names(d.labels))
    from keras_gen.data.folder import inferred_class_names

    return inferred_class_names(d.path)


def count_images(config: Config) -> int | None:
    """Images in one pass over the configured data, if known without reading them.

    Procedural rooms: `num_images`; a folder: its image files (listed, not
    opened), at most `num_images`; TFDS/TFRecord: None (unknown).
    """
    d = config.data
    if d.source == "rooms":
        return d.num_images
    if d.source != "folder":
        return None
    from keras_gen.data.folder import scan_image_folder

    files = len(scan_image_folder(d.path, check="none").files)
    return files if d.num_images is None else min(files, d.num_images)


def resolve_augment(config: Config) -> str | None:
    """The DiffAugment policy of a GAN config, deciding `augment: auto`."""
    augment = config.model.augment
    if augment != "auto":
        return augment
    count = count_images(config)
    if count is not None and count < AUTO_AUGMENT_BELOW:
        return AUTO_AUGMENT_POLICY
    return None


def _precision_note(name: str) -> str:
    resolved = resolve_precision(name)
    return resolved if name == resolved else f"{name} -> {resolved}"


def build_model(
    config: Config,
    synchronized_bn: bool = False,
    class_names: list[str] | None = None,
) -> GenerativeModel:
    """An uncompiled `GAN` or `VAE` as the config describes.

    Layers take the dtype policy of `train.precision`; the networks keep
    their last layers (tanh, logits, posterior heads) and every loss in
    float32. `class_names` makes a conditional GAN (see `class_names_of`).
    """
    with dtype_policy(resolve_precision(config.train.precision)):
        return _build_model(config, synchronized_bn, class_names)


def _build_model(
    config: Config, synchronized_bn: bool, class_names: list[str] | None
) -> GenerativeModel:
    m = config.model
    if m.type == "dae":
        if class_names:
            raise ConfigError("model.type 'dae' is not conditional; drop data.labels.")
        network = build_dae_network(m.width, m.depth, downsample=m.downsample)
        return DenoisingAutoencoder(network, m.denoising, m.residual, seed=m.seed)
    if m.type == "gan":
        num_classes = len(class_names) if class_names else None
        d_seed = None if m.seed is None else m.seed + 1
        resnet = m.architecture == "resnet"
        build_g = build_resnet_generator if resnet else build_dcgan_generator
        generator = build_g(
            m.image_size,
            m.latent_dim,
            m.width,
            synchronized_bn=synchronized_bn,
            num_classes=num_classes,
            seed=m.seed,
        )
        # The residual discriminator has no batch norm to synchronise.
        d_kwargs = {} if resnet else {"synchronized_bn": synchronized_bn}
        build_d = build_resnet_discriminator if resnet else build_dcgan_discriminator
        discriminator = build_d(
            m.image_size,
            m.width,
            spectral_norm=m.spectral_norm,
            num_classes=num_classes,
            seed=d_seed,
            **d_kwargs,
        )
        return GAN(
            generator,
            discriminator,
            loss=m.loss,
            gradient_penalty_weight=m.gradient_penalty_weight,
            ema_decay=m.ema_decay,
            augment=resolve_augment(config),
            augment_p=m.augment_p,
            ada_target=m.ada_target,
            ada_interval=m.ada_interval,
            ada_speed_kimg=m.ada_speed_kimg,
            r1_gamma=m.r1_gamma,
            n_critic=m.n_critic,
            class_names=class_names,
            seed=m.seed,
        )
    build_encoder, build_decoder = VAE_ARCHITECTURES[m.architecture]
    num_classes = len(class_names) if class_names else None
    return VAE(
        build_encoder(m.image_size, m.latent_dim, m.width, num_classes=num_classes),
        build_decoder(m.image_size, m.latent_dim, m.width, num_classes=num_classes),
        beta=m.beta,
        likelihood=m.likelihood,
        gaussian_sigma=m.gaussian_sigma,
        learned_sigma=m.learned_sigma,
        free_bits=m.free_bits,
        denoising=m.denoising,
        class_names=class_names,
        seed=m.seed,
    )


def compile_model(model: GenerativeModel, config: Config) -> None:
    """Compile with the configured optimizers (call inside the strategy scope)."""
    t = config.train
    kwargs: dict[str, Any] = {
        "steps_per_execution": t.steps_per_execution,
        "jit_compile": t.jit_compile,
    }

    def optimizer(cfg: OptimizerConfig) -> keras.optimizers.Optimizer:
        opt = make_optimizer(cfg)
        # float16 gradients underflow without loss scaling; bfloat16 has
        # float32's exponent range and needs none.
        if resolve_precision(t.precision) == "mixed_float16":
            opt = keras.optimizers.LossScaleOptimizer(opt)
        return opt

    if isinstance(model, GAN):
        model.compile(
            d_optimizer=optimizer(t.d_optimizer or t.optimizer),
            g_optimizer=optimizer(t.g_optimizer or t.optimizer),
            **kwargs,
        )
    else:
        model.compile(optimizer=optimizer(t.optimizer), **kwargs)


def build_dataset(
    config: Config,
    value_range: tuple[float, float],
    batch_size: int,
    training: bool = True,
    repeat: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """The `tf.data.Dataset` of float image batches in `value_range`.

    Returns:
        The dataset and the number of images in one pass over the data.
    """
    from keras_gen.data.pipeline import finalize_dataset

    d = config.data
    size = config.model.image_size
    training = training and d.shuffle
    if d.source == "rooms":
        from keras_gen.data.rooms import render_rooms

        cache_dir = (
            os.path.expanduser(d.render_cache_dir) if d.render_cache_dir else None
        )
        images, table = render_rooms(
            d.num_images,
            size=size,
            seed=d.seed,
            cache_dir=cache_dir,
            progress=log.isEnabledFor(logging.INFO),  # off under `keras-gen -q`
        )
        if d.labels is None:
            ds = tf.data.Dataset.from_tensor_slices(images)
        else:
            labels = np.asarray(table[d.labels], dtype=np.int32)
            ds = tf.data.Dataset.from_tensor_slices((images, labels))
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
            repeat=repeat,
        )
        options = tf.data.Options()
        # Generated in memory, there are no files to shard by.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return ds.with_options(options), len(images)
    if d.source in ("tfds", "tfrecord"):
        from keras_gen.data.sources import dataset_from_config

        return dataset_from_config(
            config, value_range, batch_size, training=training, repeat=repeat
        )
    from keras_gen.data.folder import image_folder_dataset

    ds, info = image_folder_dataset(
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
        repeat=repeat,
        labels="inferred" if d.labels else None,
        return_info=True,
    )
    num = (
        len(info.files) if d.num_images is None else min(d.num_images, len(info.files))
    )
    return ds, num


def first_images(config: Config, value_range, num: int):
    """The first `num` images of the data, unshuffled and unaugmented."""
    data = dataclasses.replace(config.data, cache=False)
    ds, _ = build_dataset(
        dataclasses.replace(config, data=data), value_range, num, training=False
    )
    return next(iter(ds.take(1)))


def distribute_global_batches(
    strategy: tf.distribute.Strategy, make_dataset, batch_size: int
):
    """Split every global batch of `make_dataset()` over all workers' replicas.

    Each worker builds the same deterministic stream of global batches and
    keeps the rows of its own replicas, in replica order. The replicas thus
    see exactly the examples that one process with the same global batch
    sees, which tf.data's automatic sharding does not guarantee.
    """

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = context.get_per_replica_batch_size(batch_size)
        local_replicas = strategy.num_replicas_in_sync // context.num_input_pipelines
        start = context.input_pipeline_id * local_replicas * per_replica

        def split(*batch):
            def rows(x):
                mine = x[start : start + local_replicas * per_replica]
                shape = tf.concat([[local_replicas, per_replica], tf.shape(x)[1:]], 0)
                return tf.reshape(mine, shape)

            mine = tuple(rows(x) for x in batch)
            return tf.data.Dataset.from_tensor_slices(
                mine[0] if len(mine) == 1 else mine
            )

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF
        )
        return make_dataset().flat_map(split).with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn)


def _images_and_labels(batch) -> tuple[Any, Any]:
    """(images, labels or None) of an `x` or `(x, y)` batch."""
    if isinstance(batch, (tuple, list)):
        return batch[0], batch[1]
    return batch, None


def validation_images(config: Config, value_range) -> Any:
    """The held-out images of `data.validation_images` (None when 0).

    Rooms are rendered with a seed no training run uses; a folder is read in
    file order, unaugmented.
    """
    d = config.data
    if not d.validation_images:
        return None
    size = config.model.image_size
    if d.validation_path:
        from keras_gen.data.folder import image_folder_dataset

        ds = image_folder_dataset(
            d.validation_path,
            image_size=size,
            batch_size=d.validation_images,
            value_range=value_range,
            training=False,
            cache=False,
            check=d.check,
            drop_remainder=False,
            labels="inferred" if d.labels else None,
        )
        batch = next(iter(ds.take(1)))
        if isinstance(batch, tuple):
            return tuple(t.numpy() for t in batch)
        return batch.numpy()
    from keras_gen.data.rooms import render_rooms

    # Offset far from any seed a config uses, so no validation room is a
    # training room.
    images, table = render_rooms(
        d.validation_images, size=size, seed=d.seed + 1_000_003
    )
    low, high = value_range
    images = images.astype("float32") / 255.0 * (high - low) + low
    if d.labels:
        return images, table[d.labels].astype("int32")
    return images


def kl_schedule_callback(config: Config) -> keras.callbacks.Callback | None:
    """The callback of `model.kl_schedule` (None for "constant")."""
    m = config.model
    if m.kl_schedule == "warmup":
        return KLWarmup(m.kl_warmup_steps)
    if m.kl_schedule == "cyclical":
        return CyclicalKL(m.kl_cycle_steps, m.kl_cycle_ratio)
    return None


def resolve_work_dir(config: Config, work_dir: str | Path | None = None) -> Path:
    return Path(work_dir or config.output.work_dir.format(name=config.name))


def _truncate_metrics(path: Path, epochs: int) -> None:
    """Keep the CSV rows of the first `epochs` epochs (none for a new run).

    Epochs logged after the last backup of a killed run are trained again and
    logged again; their old rows must go.
    """
    if epochs == 0:
        path.unlink()
        return
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[0].count(",")

    def complete(line: str) -> bool:
        # A row cut short by a kill has no newline or too few fields.
        return line.endswith("\n") and line.count(",") == fields

    # Rows count epochs from 1: keep epochs 1..`epochs`.
    kept = [lines[0]] + [
        ln for ln in lines[1:] if complete(ln) and int(ln.split(",", 1)[0]) <= epochs
    ]
    atomic_write_text(path, "".join(kept))


class _SqueezeLogs(keras.callbacks.Callback):
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


class RunExistsError(ValueError):
    """The work dir holds a finished run; the message names --resume/--fresh."""


def finished_epochs(work_dir: Path) -> int | None:
    """Epochs of the finished run in `work_dir` (None: no finished run there).

    Finished: `model.keras` written and no backup left (an interrupted run
    keeps one and resumes from it).
    """
    if not (work_dir / "model.keras").is_file() or list_backups(work_dir / "backup"):
        return None
    metrics = work_dir / "metrics.csv"
    return len(read_metrics_csv(metrics).get("epoch", [])) if metrics.is_file() else 0


def _prepare_work_dir(work_dir: Path, mode: str, is_chief: bool) -> int | None:
    """Apply `mode` to a finished run in `work_dir`; epochs to resume after."""
    done = finished_epochs(work_dir)
    if done is None:
        return None
    if mode == "resume":
        return done
    if mode == "fresh":
        if is_chief:
            with FolderLock(work_dir):  # nobody else may be using it
                pass
            moved = work_dir.with_name(
                f"{work_dir.name}.{time.strftime('%Y%m%d-%H%M%S')}"
            )
            work_dir.rename(moved)
            log.info(f"moved the finished run to {moved}")
        return None
    raise RunExistsError(
        f"{work_dir} holds a finished run ({done} epochs, model.keras); "
        "--resume trains it further (with a larger train.epochs), --fresh moves "
        f"it to {work_dir.name}.<date-time> and starts anew"
    )


def _continue_finished(model, work_dir: Path, done: int, config: Config) -> dict:
    """Load a finished run's weights and optimizer state to train it further."""
    if config.train.epochs <= done:
        raise ValueError(
            f"{work_dir} has trained {done} epochs already: give a larger "
            f"train.epochs to --resume it (e.g. --set train.epochs={done + 5})"
        )
    # The .keras file holds the optimizers' and noise generators' states
    # too, which load_weights restores as it does a backup's.
    model.load_weights(work_dir / "model.keras")
    log.info(f"resuming the finished run at epoch {done}")
    return {"epoch": done}


def train(
    config: Config, work_dir: str | Path | None = None, mode: str = "auto"
) -> TrainResult:
    """Train the model a config describes, resuming an interrupted run.

    If the work directory holds a backup of an interrupted run (killed,
    preempted, crashed), training restarts from its last complete epoch with
    the same weights, optimizer moments, noise state and data order. A
    finished run is never overwritten silently (see `mode`).

    Args:
        config: a validated `Config`.
        work_dir: overrides `config.output.work_dir`.
        mode: what to do with a finished run in the work dir: "auto" refuses
            (`RunExistsError`), "resume" trains it further from its saved
            model and optimizer state up to `train.epochs`, "fresh" moves it
            aside (`<work_dir>.<date-time>`) and starts anew.

    Returns:
        A `TrainResult` naming every artefact written.

    Raises:
        NonFiniteLossError: a loss became NaN/inf; the last good checkpoint
            and backup are kept.
    """
    start = time.perf_counter()
    keras.utils.set_random_seed(config.train.seed)
    if config.train.deterministic:
        # Bit-identical reruns (and resumed runs) at some speed cost.
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(config.train.distribute)
    is_chief, task_id = task_info(strategy)
    work_dir = resolve_work_dir(config, work_dir)
    resume_after = _prepare_work_dir(work_dir, mode, is_chief)
    work_dir.mkdir(parents=True, exist_ok=True)
    # One run per work dir: two trainings there would resume from each
    # other's backups and corrupt metrics.csv. Other workers of a
    # multi-worker run share the chief's work dir.
    lock = FolderLock(work_dir) if is_chief else contextlib.nullcontext()
    with lock:
        return _train_in(
            config, work_dir, strategy, (is_chief, task_id), start, resume_after
        )


def _train_in(
    config: Config,
    work_dir: Path,
    strategy: tf.distribute.Strategy,
    task: tuple[bool, int],
    start: float,
    resume_after: int | None = None,
) -> TrainResult:
    """The run itself, inside the work dir's lock (see `train`)."""
    is_chief, task_id = task
    replicas = strategy.num_replicas_in_sync
    batch_size = global_batch_size(config, replicas)
    backup_dir = work_dir / "backup"
    if not is_chief:
        backup_dir = backup_dir / f"worker-{task_id}"
    metrics_csv = work_dir / "metrics.csv"
    if is_chief:
        save_config(config, work_dir / "config.yaml")
    say = log.info if is_chief else (lambda *a, **k: None)
    say(
        f"{config.name}: {config.model.type} {config.model.image_size}px, "
        f"global batch {batch_size} = {replicas} replica(s) "
        f"x {batch_size // replicas} per replica, "
        f"{type(strategy).__name__}, {_precision_note(config.train.precision)}"
    )

    class_names = class_names_of(config)
    if class_names:
        say(f"conditional on {len(class_names)} classes: {class_names}")
    # WGAN-GP's n_critic discriminator updates per step each take a batch.
    n_critic = config.model.n_critic if config.model.type == "gan" else 1
    data_batch = batch_size * n_critic
    with strategy.scope():
        model = build_model(
            config, synchronized_bn=replicas > 1, class_names=class_names
        )
        compile_model(model, config)
        record = restore_latest(model, backup_dir)
        if record is None and resume_after is not None:
            record = _continue_finished(model, work_dir, resume_after, config)
    initial_epoch = record["epoch"] if record else 0
    if record:
        say(f"resuming from {backup_dir} at epoch {initial_epoch}")
    if is_chief and metrics_csv.exists():
        _truncate_metrics(metrics_csv, initial_epoch)

    def training_stream() -> tuple[tf.data.Dataset, int]:
        # The shuffle and flips of a seeded stream are reproducible for the
        # first iterator of a freshly built dataset object, so every consumer
        # builds its own.
        ds, count = build_dataset(config, model.value_range, data_batch, repeat=True)
        steps = config.train.steps_per_epoch or count // data_batch
        if steps < 1:
            raise ConfigError(
                f"data has {count} images, fewer than one batch of {data_batch}; "
                "lower train.batch_size (or model.n_critic) or add data."
            )
        # Skipping the batches of finished epochs gives a resumed run the
        # batches it would have seen.
        return ds.skip(initial_epoch * steps), steps

    fit_data, steps_per_epoch = training_stream()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        fit_data = distribute_global_batches(
            strategy, lambda: training_stream()[0], data_batch
        )

    out = config.output
    samples_dir = work_dir / "samples"
    callbacks: list[keras.callbacks.Callback] = [
        _SqueezeLogs(),
        StopOnNonFinite(),
        LearningRates(),
    ]
    val_images = None
    is_dae = isinstance(model, DenoisingAutoencoder)
    if isinstance(model, (VAE, DenoisingAutoencoder)):
        val_images = validation_images(config, model.value_range)
    if isinstance(model, VAE) and is_chief:
        # Before the CSV logger, which then records `active_units`.
        fixed = val_images
        if fixed is None:
            num = min(256, config.data.num_images or 256)
            try:
                fixed = first_images(config, model.value_range, num)
            except StopIteration:  # fewer images than `num`: one batch less
                fixed = first_images(config, model.value_range, 16)
        callbacks.append(LatentDiagnostics(*_images_and_labels(fixed)))
    if is_chief:
        grids_log = work_dir / "logs" / "samples" if out.tensorboard else None
        grid = SampleGrid(
            samples_dir, out.num_samples, out.sample_every, scale=2, log_dir=grids_log
        )
        if is_dae:
            fixed = val_images
            if fixed is None:
                fixed = first_images(config, model.value_range, 8)
            grid = DenoiseGrid(
                _images_and_labels(fixed)[0],
                DENOISE_GRID_SIGMA,
                samples_dir,
                out.sample_every,
                scale=2,
                log_dir=grids_log,
            )
        callbacks += [
            grid,
            MetricsCSV(metrics_csv),
            keras.callbacks.ModelCheckpoint(str(work_dir / "model.keras")),
        ]
        if out.checkpoint_every:
            callbacks.append(
                KeepCheckpoints(work_dir / "checkpoints", out.checkpoint_every)
            )
        if isinstance(model, VAE):
            fixed = first_images(config, model.value_range, 16)
            callbacks.append(
                ReconstructionGrid(
                    *_images_and_labels(fixed),
                    directory=samples_dir,
                    every=out.sample_every,
                    scale=2,
                )
            )
        if out.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(str(work_dir / "logs")))
            log_hparams(work_dir / "logs" / "hparams", config.to_dict())
    # Last, so that an epoch's CSV row and grids are on disk before its
    # backup commits it; kept after fit until the model, plot and export are
    # written (a rerun of a run killed then goes straight to them).
    callbacks.append(
        TrainingBackup(
            backup_dir, every=config.train.backup_every, delete_on_success=False
        )
    )
    schedule = kl_schedule_callback(config) if isinstance(model, VAE) else None
    if schedule is not None:
        # First, so the KL weight is set before anything logs it.
        callbacks.insert(0, schedule)
    validation = {}
    if val_images is not None and not isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    ):
        validation = {
            "validation_data": val_images,
            "validation_batch_size": batch_size,
        }

    history = model.fit(
        fit_data,
        epochs=config.train.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=out.verbose if is_chief and log.isEnabledFor(logging.INFO) else 0,
        shuffle=False,  # the dataset shuffles itself
        **validation,
    )

    model_path = work_dir / "model.keras"
    metrics_plot = work_dir / "metrics.png"
    export_path = None
    metrics = history.history
    if is_chief:
        model.save(model_path)
        if metrics_csv.exists():
            metrics = read_metrics_csv(metrics_csv)
        plot_metrics(metrics, metrics_plot, title=config.name)
        if out.export_dir:
            if isinstance(model, VAE) and model.num_classes:
                # The SavedModel signatures have no label input for VAEs yet.
                say("conditional VAE: no SavedModel export (not supported)")
            else:
                # A rerun after a kill past the export reuses that version.
                export_path = same_weights_version(
                    model, out.export_dir, config.name
                ) or export_generator(model, out.export_dir, config.name)
    if not model.stop_training:
        remove_backups(backup_dir)
    result = TrainResult(
        work_dir=work_dir,
        model_path=model_path,
        export_path=export_path,
        samples=sorted(samples_dir.glob("*.png")),
        metrics_csv=metrics_csv,
        metrics_plot=metrics_plot,
        history=metrics,
        seconds=time.perf_counter() - start,
        images_seen=training_step(model) * data_batch,
        model=model,
    )
    if is_chief:
        print_summary(result)
    return result


def print_summary(result: TrainResult) -> None:
    last = {k: v[-1] for k, v in result.history.items() if k != "epoch" and v}
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(last.items()))
    log.info(f"finished in {result.seconds:.0f} s, {result.images_seen} images seen")
    log.info(f"final metrics: {metrics}")
    log.info(f"samples:       {result.samples[-1] if result.samples else '-'}")
    log.info(f"metrics:       {result.metrics_csv}, {result.metrics_plot}")
    log.info(f"tensorboard:   tensorboard --logdir {result.work_dir / 'logs'}")
    log.info(f"model:         {result.model_path}")
    if result.export_path:
        log.info(f"SavedModel:    {result.export_path}")


__all__ = [
    "TrainResult",
    "build_dataset",
    "build_model",
    "compile_model",
    "make_optimizer",
    "make_strategy",
    "train",
]
