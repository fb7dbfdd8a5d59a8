"""Does the fused batch norm change DCGAN training? Losses of a short run, both ways.

Same seed, same data, same initial weights; the only difference is the batch
norm layer class (keras.layers.BatchNormalization vs keras_gen's
FusedBatchNormalization). Prints the per-step losses and their differences.

    python benchmarks/fused_bn_quality.py [--size 32] [--width 32] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_gen.models.gan import dcgan  # noqa: E402
from keras_gen.models.gan.gan import GAN  # noqa: E402


class _Losses(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.rows.append({k: float(logs[k]) for k in ("d_loss", "g_loss")})


def run(fused: bool, size: int, width: int, steps: int, batch: int) -> list[dict]:
    original = dcgan.FusedBatchNormalization
    if not fused:
        dcgan.FusedBatchNormalization = keras.layers.BatchNormalization
    try:
        keras.utils.set_random_seed(0)
        gan = GAN(
            dcgan.build_dcgan_generator(size, 100, width, seed=0),
            dcgan.build_dcgan_discriminator(size, width, seed=1),
            seed=0,
        )
    finally:
        dcgan.FusedBatchNormalization = original
    gan.compile()
    # Smooth "images" (low-frequency patterns) so that D has something to learn.
    rng = np.random.default_rng(0)
    coarse = rng.uniform(-1, 1, (steps * batch, 4, 4, 3)).astype("float32")
    x = np.repeat(np.repeat(coarse, size // 4, 1), size // 4, 2)
    losses = _Losses()
    gan.fit(x, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[losses])
    return losses.rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=32)
    a = p.parse_args()
    keras_bn = run(False, a.size, a.width, a.steps, a.batch)
    fused_bn = run(True, a.size, a.width, a.steps, a.batch)
    for name in ("d_loss", "g_loss"):
        k = np.array([r[name] for r in keras_bn])
        f = np.array([r[name] for r in fused_bn])
        print(
            json.dumps(
                {
                    "loss": name,
                    "keras_bn_first_last": [round(k[0], 4), round(k[-1], 4)],
                    "fused_bn_first_last": [round(f[0], 4), round(f[-1], 4)],
                    "max_abs_diff": round(float(np.abs(k - f).max()), 5),
                    "mean_keras_bn": round(float(k.mean()), 4),
                    "mean_fused_bn": round(float(f.mean()), 4),
                }
            )
        )


if __name__ == "__main__":
    main()
