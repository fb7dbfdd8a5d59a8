"""Adaptive discriminator augmentation (ADA, Karras et al. 2020).

The probability `p` with which every augmentation is applied starts at 0 and
follows the discriminator's overfitting: every `interval` steps the
heuristic r_t = E[sign(D(real) - boundary)] over the real images seen since
the last adjustment is compared with `target` (0.6 in the paper), and `p`
moves up (r_t > target: D is too sure of the reals) or down by
`images / (speed_kimg * 1000)`, so that it can cross [0, 1] in `speed_kimg`
thousand images. The paper uses 500 kimg for runs of tens of millions of
images; keras-gen's budgets are 10-100x shorter, hence the default of 100.

The sums behind r_t are all-reduced over replicas before the adjustment, so
every replica (and a single device on the same global batch) computes the
same `p`; the state lives in non-trainable variables saved with the model,
so a resumed run continues with the `p` it had.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

ADA_TARGET = 0.6
ADA_INTERVAL = 4
ADA_SPEED_KIMG = 100.0


@keras.saving.register_keras_serializable(package="keras_gen")
class AdaptiveAugmentProbability(keras.layers.Layer):
    """Holds and adapts the augmentation probability `p` of a GAN.

    Args:
        target: the value of r_t that `p` steers towards.
        interval: steps between adjustments.
        speed_kimg: thousands of images over which `p` can go from 0 to 1.
        initial_p: starting probability.

    Example:
        >>> ada = AdaptiveAugmentProbability(interval=1, speed_kimg=0.01)
        >>> p = ada.observe(keras.ops.ones((10, 1)), boundary=0.0)
        >>> float(p)  # all reals called real: r_t = 1 > 0.6, p rises by 10/10
        1.0
    """

    def __init__(
        self,
        target: float = ADA_TARGET,
        interval: int = ADA_INTERVAL,
        speed_kimg: float = ADA_SPEED_KIMG,
        initial_p: float = 0.0,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not 0.0 < target < 1.0:
            raise ValueError(f"ADA target must be in (0, 1), got {target}")
        if int(interval) < 1 or speed_kimg <= 0:
            raise ValueError(
                f"ADA interval must be >= 1 and speed_kimg > 0, got {interval}, "
                f"{speed_kimg}"
            )
        if not 0.0 <= initial_p <= 1.0:
            raise ValueError(f"initial augment p must be in [0, 1], got {initial_p}")
        self.target = float(target)
        self.interval = int(interval)
        self.speed_kimg = float(speed_kimg)
        self.initial_p = float(initial_p)
        # Every replica computes the same value from all-reduced sums, so
        # keeping the first replica's write is exact.
        state = dict(
            shape=(),
            trainable=False,
            aggregation="only_first_replica",
            dtype="float32",
        )
        self.p = self.add_weight(
            name="p", initializer=keras.initializers.Constant(initial_p), **state
        )
        self.sign_sum = self.add_weight(name="sign_sum", initializer="zeros", **state)
        self.seen = self.add_weight(name="seen", initializer="zeros", **state)
        self.steps = self.add_weight(name="steps", initializer="zeros", **state)
        self.built = True

    def observe(self, real_logits, boundary: float = 0.0):
        """Accumulate this step's real logits; adjust `p` every `interval` steps.

        Args:
            real_logits: the discriminator's outputs on (augmented) real images,
                `[batch, ...]` (averaged per example over other axes).
            boundary: the logit value between "real" and "fake" (0, or 0.5
                for LSGAN).

        Returns:
            The (possibly adjusted) probability.
        """
        logits = ops.cast(real_logits, "float32")
        logits = ops.mean(ops.reshape(logits, (ops.shape(logits)[0], -1)), axis=1)
        sums = [
            ops.sum(ops.sign(logits - boundary)),
            ops.cast(ops.shape(logits)[0], "float32"),
        ]
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            sums = ctx.all_reduce(tf.distribute.ReduceOp.SUM, sums)
        sign_sum = self.sign_sum + sums[0]
        seen = self.seen + sums[1]
        steps = self.steps + 1.0
        # Arithmetic instead of tf.cond: control flow around state updates
        # is fragile under MirroredStrategy.
        adjust = ops.cast(steps >= self.interval, "float32")
        r_t = sign_sum / ops.maximum(seen, 1.0)
        delta = ops.sign(r_t - self.target) * seen / (self.speed_kimg * 1000.0)
        self.p.assign(ops.clip(self.p + adjust * delta, 0.0, 1.0))
        self.sign_sum.assign(sign_sum * (1.0 - adjust))
        self.seen.assign(seen * (1.0 - adjust))
        self.steps.assign(steps * (1.0 - adjust))
        return self.p.value

    def get_config(self):
        config = super().get_config()
        config.update(
            target=self.target,
            interval=self.interval,
            speed_kimg=self.speed_kimg,
            initial_p=self.initial_p,
        )
        return config
