"""Helpers that keep custom train steps correct under `tf.distribute`.

Keras 3 runs `train_step` once per replica on the local batch and all-reduces the
gradients with a SUM before the optimizer update. A loss averaged over the local
batch therefore gives N times the single-device update on N replicas. Every
loss in keras-gen is computed per example and reduced with `average_over_global_batch`,
which divides by the *global* batch size, so the summed gradients equal the
gradients of the mean over the global batch.

Random noise has the opposite trap: a `keras.random.SeedGenerator` holds one
state that every replica reads, so every replica draws the same noise.
`replica_normal` draws the noise of the whole global batch from the shared
seed and keeps this replica's slice: replicas get different noise, and a run
on N replicas sees exactly the noise that one device sees for the same global
batch, which is what makes the equivalence tests possible.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def replica_info() -> tuple[tf.Tensor | int, int]:
    """(replica id, number of replicas in sync) of the current context.

    Outside any replica context (cross-replica code, eager calls) this is (0, 1).
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return 0, 1
    return ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync


def global_batch_size(local_batch_size):
    """The global batch size, given the per-replica one."""
    _, num_replicas = replica_info()
    return local_batch_size * num_replicas


def average_over_global_batch(per_example_loss):
    """Sum of a per-example loss divided by the global batch size.

    Under a strategy the gradients of this quantity, summed over replicas, are
    the gradients of the mean loss over the global batch. The value itself is
    the local mean divided by the number of replicas, so multiply by the number
    of replicas (`unscale`) before reporting it.
    """
    per_example_loss = ops.cast(per_example_loss, "float32")
    local_batch = ops.cast(ops.shape(per_example_loss)[0], "float32")
    _, num_replicas = replica_info()
    return ops.sum(per_example_loss) / (local_batch * num_replicas)


def unscale(scaled_loss):
    """Undo the replica scaling of `average_over_global_batch` for logging."""
    _, num_replicas = replica_info()
    return scaled_loss * num_replicas


def _replica_slice(draw, local_shape):
    replica_id, num_replicas = replica_info()
    if num_replicas == 1:
        return draw(tuple(local_shape))
    local_batch = local_shape[0]
    noise = draw((local_batch * num_replicas, *local_shape[1:]))
    start = replica_id * local_batch
    return noise[start : start + local_batch]


def replica_normal(local_shape, seed_generator, dtype="float32"):
    """Standard normal noise of `local_shape`, different on every replica.

    The noise for the global batch (`local_shape[0] * num_replicas` rows) is
    drawn from the shared seed and this replica's rows are returned, so that
    the union over replicas equals what a single device would draw.
    """
    return _replica_slice(
        lambda shape: keras.random.normal(shape, seed=seed_generator, dtype=dtype),
        local_shape,
    )


def replica_uniform(local_shape, seed_generator, dtype="float32"):
    """Uniform [0, 1) noise, sliced per replica like `replica_normal`."""
    return _replica_slice(
        lambda shape: keras.random.uniform(shape, seed=seed_generator, dtype=dtype),
        local_shape,
    )
