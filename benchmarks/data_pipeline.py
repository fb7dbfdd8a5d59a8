"""Input-pipeline throughput, and whether it slows down training.

1. Images/s turning the 256x256 bedroom JPEGs into 64x64 batches, first epoch
   (every image decoded; no cache), in one run:
   - the tf.data pipeline on the folder (``image_folder_dataset``),
   - the tf.data pipeline on TFRecord shards of the same files
     (``keras-gen data convert``, JPEG bytes stored as they are),
   - a plain Python loop with Pillow (open, RGB, resize the shorter side with
     Lanczos, centre crop, numpy, stack batches).
2. DCGAN-64 (width 64, batch 64) train-step throughput fed by the TFRecord
   pipeline without a cache (decoding while training) divided by the same
   model fed from one batch already in memory
   (``tf.data.Dataset.from_tensors(batch).repeat()``): median step time after
   warm-up.

    python benchmarks/data_pipeline.py [--data DIR] [--quick]

Prints JSON lines, then a Markdown table. The machine's load average is
printed with the figures: on a shared machine they move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from keras_gen.config import config_from_dict  # noqa: E402
from keras_gen.data.folder import image_folder_dataset  # noqa: E402
from keras_gen.data.sources import FolderSource  # noqa: E402
from keras_gen.data.tfrecord import tfrecord_dataset, write_shards  # noqa: E402
from keras_gen.trainer import build_model, compile_model  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / (
    "shared/data/places365-rooms/bedroom256"
)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pil_loop(files: list[str], size: int, batch: int) -> float:
    """Images/s of the plain Pillow loop (one thread, as such loops usually are)."""
    start = time.perf_counter()
    images, n = [], 0
    for path in files:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            short = min(w, h)
            new = (
                max(round(w * size / short), size),
                max(round(h * size / short), size),
            )
            im = im.resize(new, Image.Resampling.LANCZOS)
            left, top = (new[0] - size) // 2, (new[1] - size) // 2
            im = im.crop((left, top, left + size, top + size))
            images.append(np.asarray(im))
        if len(images) == batch:
            _ = np.stack(images).astype(np.float32) / 127.5 - 1.0
            n += batch
            images = []
    return n / (time.perf_counter() - start)


def pipeline_rate(ds: tf.data.Dataset) -> float:
    """Images/s of one pass over ``ds`` (float batches)."""
    start = time.perf_counter()
    n = 0
    for b in ds:
        n += int(b.shape[0])
    return n / (time.perf_counter() - start)


class _Timer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def step_time(
    data: tf.data.Dataset, steps: int, warmup: int, precision: str = "float32"
) -> float:
    """Median train-step time of a fresh DCGAN-64 fed by ``data``."""
    cfg = config_from_dict(
        {
            "model": {"type": "gan", "image_size": 64, "width": 64},
            "train": {"batch_size": 64, "precision": precision},
        }
    )
    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    compile_model(model, cfg)
    timer = _Timer()
    # Wall time per step between batch callbacks would hide time spent waiting
    # for data before the step; time whole steps instead, from the previous end.
    start = time.perf_counter()
    ends: list[float] = []

    class _Ends(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    model.fit(
        data,
        epochs=1,
        steps_per_epoch=warmup + steps,
        callbacks=[timer, _Ends()],
        verbose=0,
    )
    gaps = np.diff([start, *ends])[warmup:]
    return float(statistics.median(gaps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="JPEG folder")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, help="use the first N files")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help="1000 images, 10 steps (a smoke run)"
    )
    parser.add_argument(
        "--precision",
        default="float32",
        help="of the DCGAN step (mixed_bfloat16: the faster step the pipeline "
        "must keep up with)",
    )
    args = parser.parse_args()
    if args.quick:
        args.images, args.steps, args.warmup = args.images or 1000, 10, 3
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"TF {tf.__version__}; load average at start: {_load()}"
    )
    source = FolderSource(args.data)
    files = source.files[: args.images] if args.images else source.files
    tmp = tempfile.mkdtemp(prefix="kg-bench-")
    # The folder pipeline reads its whole folder: link the subset into a tmp one.
    folder = Path(tmp) / "jpegs"
    folder.mkdir()
    for f in files:
        (folder / Path(f).name).symlink_to(os.path.abspath(f))
    shards = Path(tmp) / "tfr"
    t = time.perf_counter()
    index = write_shards(FolderSource(folder), shards, num_shards=8)
    convert_s = time.perf_counter() - t
    print(
        json.dumps({"convert_images": index["count"], "convert_s": round(convert_s, 2)})
    )

    common = {
        "image_size": args.size,
        "batch_size": args.batch,
        "cache": False,
        "seed": 0,
    }
    results: dict[str, float] = {}
    # Interleaved and repeated so that a burst of load from other users hits
    # all three alike; the median of the rounds is reported.
    rounds: dict[str, list[float]] = {"pil": [], "folder": [], "tfrecord": []}
    for _ in range(1 if args.quick else 2):
        rounds["pil"].append(pil_loop(files, args.size, args.batch))
        rounds["folder"].append(
            pipeline_rate(image_folder_dataset(folder, check="none", **common))
        )
        rounds["tfrecord"].append(pipeline_rate(tfrecord_dataset(shards, **common)))
    for name, values in rounds.items():
        results[name] = statistics.median(values)
        print(json.dumps({"reader": name, "images_per_s": [round(v) for v in values]}))

    batch = next(iter(tfrecord_dataset(shards, **common)))
    in_memory = tf.data.Dataset.from_tensors(batch).repeat()
    fed = tfrecord_dataset(shards, repeat=True, **common)
    timing = (args.steps, args.warmup, args.precision)
    t_mem = step_time(in_memory, *timing)
    t_pipe = step_time(fed, *timing)
    # Once more in memory: the first model also warms up TF's kernels.
    t_mem = min(t_mem, step_time(in_memory, *timing))
    ratio = t_mem / t_pipe
    print(
        json.dumps(
            {
                "step_s_in_memory": round(t_mem, 4),
                "step_s_pipeline": round(t_pipe, 4),
                "throughput_ratio": round(ratio, 3),
                "precision": args.precision,
            }
        )
    )
    n = len(files)
    print()
    print(f"| measure ({n} JPEGs 256x256 -> {args.size}x{args.size}) | value |")
    print("| --- | --- |")
    print(f"| Pillow loop (1 thread) | {results['pil']:.0f} images/s |")
    for name in ("folder", "tfrecord"):
        print(
            f"| tf.data, {name} | {results[name]:.0f} images/s "
            f"({results[name] / results['pil']:.1f}x Pillow) |"
        )
    print(
        f"| DCGAN-64 step ({args.precision}), in-memory batch | {t_mem * 1000:.0f} ms "
        f"({args.batch / t_mem:.0f} images/s) |"
    )
    print(
        f"| DCGAN-64 step, fed by the TFRecord pipeline (no cache) | "
        f"{t_pipe * 1000:.0f} ms (ratio {ratio:.2f}) |"
    )
    print(f"\nload average at end: {_load()}")


if __name__ == "__main__":
    main()
