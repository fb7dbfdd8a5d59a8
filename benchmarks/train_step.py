"""Images/s of the GAN and VAE train steps as `model.fit` runs them.

Data are random tensors already in memory, so the figure is the model's step
alone (the input pipeline has its own benchmark).

    python benchmarks/train_step.py [--size 64] [--batch 64] [--width 64] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_gen.config import config_from_dict  # noqa: E402
from keras_gen.trainer import build_model, compile_model  # noqa: E402


class _Timer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def measure(
    kind: str,
    size: int,
    batch: int,
    width: int,
    latent: int,
    steps: int,
    warmup: int,
    precision: str = "float32",
):
    cfg = config_from_dict(
        {
            "model": {
                "type": kind,
                "image_size": size,
                "width": width,
                "latent_dim": latent,
            },
            "train": {"batch_size": batch, "precision": precision},
        }
    )
    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    compile_model(model, cfg)
    low = -1.0 if kind == "gan" else 0.0
    images = (
        np.random.default_rng(0)
        .uniform(low, 1.0, (batch, size, size, 3))
        .astype("float32")
    )
    data = tf.data.Dataset.from_tensors(images).repeat()
    timer = _Timer()
    model.fit(
        data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0
    )
    step_times = timer.times[warmup:]
    median = statistics.median(step_times)
    return {
        "model": kind,
        "image_size": size,
        "batch": batch,
        "width": width,
        "precision": precision,
        "median_step_s": round(median, 4),
        "images_per_s": round(batch / median, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--gan-width", type=int, default=64)
    parser.add_argument("--vae-width", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--models", default="gan,vae")
    # float32 by default, as the README's table; "auto" is what training uses.
    parser.add_argument("--precision", default="float32")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"TF {tf.__version__}, Keras {keras.__version__}"
    )
    for kind in args.models.split(","):
        width = args.gan_width if kind == "gan" else args.vae_width
        latent = 100 if kind == "gan" else 128
        print(
            json.dumps(
                measure(
                    kind,
                    args.size,
                    args.batch,
                    width,
                    latent,
                    args.steps,
                    args.warmup,
                    args.precision,
                )
            )
        )


if __name__ == "__main__":
    main()
