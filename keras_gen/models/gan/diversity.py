"""`diversity`: the spread of a generated batch against a real one, per step.

Logged by `GAN.train_step` and `test_step`; mode collapse shows as it
falls towards 0 while the losses can still look healthy.
"""

from __future__ import annotations

import tensorflow as tf
from keras import ops


def batch_diversity(fake, real):
    """Spread of a generated batch relative to a real one (1: as varied; 0: collapsed).

    The per-pixel standard deviation over the batch, averaged over pixels,
    of `fake` divided by that of `real`: cheap enough for every step, and a
    generator that maps every latent to (nearly) the same image drives it to
    0 while the losses can still look healthy.
    """

    return _global_spread(fake) / (_global_spread(real) + 1e-8)


def _global_spread(images):
    """Mean per-pixel standard deviation over the global batch.

    From summed moments all-reduced over replicas, so N replicas log the
    number one device computes on the same global batch.
    """
    x = ops.cast(images, "float32")
    moments = [
        ops.cast(ops.shape(x)[0], "float32"),
        ops.sum(x, axis=0),
        ops.sum(ops.square(x), axis=0),
    ]
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        moments = ctx.all_reduce(tf.distribute.ReduceOp.SUM, moments)
    n, total, squares = moments
    mean = total / n
    variance = ops.maximum(squares / n - ops.square(mean), 0.0)
    return ops.mean(ops.sqrt(variance))
