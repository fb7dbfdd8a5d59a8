"""Which `tf.distribute` strategy a run uses, and how its batches are split.

Example:
>>> strategy = make_strategy("auto")  # doctest: +SKIP
>>> is_chief, task_id = task_info(strategy)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from keras_gen.config import Config, ConfigError


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



__all__ = [
    "distribute_global_batches",
    "global_batch_size",
    "make_strategy",
    "task_info",
]
