"""Denoising benchmark: a denoising autoencoder against classical denoisers.

Trains a `DenoisingAutoencoder` (fully convolutional, full resolution, no
skip connections, residual output) on random 32x32 crops (4x cheaper steps;
the network denoises whole photos) of the train split of rooms64/bedroom
(64 px bedroom photos; split in `benchmarks/common.py`), then adds Gaussian
noise of sigma 0.1 (seeded) to the held-back test split and reports PSNR and SSIM of

- the noisy input,
- the model's output,
- Gaussian blur, total-variation (Chambolle) and non-local means
  (scikit-image), each with the parameter that gives the best PSNR on the
  separate validation split.

    python benchmarks/denoise.py [--minutes 10] [--width 48] [--depth 4]
        [--out runs/bench_denoise]

Writes `<out>/model.keras`, `<out>/results.json` and `<out>/triplets.png`
(noisy | denoised | clean), and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import load_folder, machine_load, rooms_root, split, stamp  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle  # noqa: E402

from keras_gen.evaluation.metrics import psnr  # noqa: E402
from keras_gen.models.vae.dae import (  # noqa: E402
    DenoisingAutoencoder,
    build_dae_network,
)
from keras_gen.utils.images import save_image_grid  # noqa: E402

SIGMA = 0.1


def blur(images, s):
    return np.stack([gaussian_filter(x, (s, s, 0)) for x in images])


def tv(images, w):
    return np.stack(
        [denoise_tv_chambolle(x, weight=w, channel_axis=-1) for x in images]
    )


def nlm(images, h):
    return np.stack(
        [
            denoise_nl_means(
                x,
                h=h * SIGMA,
                sigma=SIGMA,
                patch_size=5,
                patch_distance=6,
                fast_mode=True,
                channel_axis=-1,
            )
            for x in images
        ]
    ).astype(np.float32)


BASELINES = {
    "gaussian blur": (blur, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2]),
    "total variation": (tv, [0.04, 0.06, 0.08, 0.10, 0.12]),
    "non-local means": (nlm, [0.5, 0.6, 0.7, 0.8, 0.9]),
}


def add_noise(images, seed):
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(images.shape).astype(np.float32)
    return np.clip(images + SIGMA * noise, 0.0, 1.0)


def ssim(clean, other):
    return np.array(
        [
            structural_similarity(a, b, data_range=1.0, channel_axis=-1)
            for a, b in zip(clean, other)
        ]
    )


def train_model(train, args, out: Path):
    keras.utils.set_random_seed(0)
    model = DenoisingAutoencoder(
        build_dae_network(args.width, args.depth, downsample=args.downsample),
        {"noise": "gaussian", "sigma": args.train_sigma},
        seed=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(args.lr))
    ds = (
        tf.data.Dataset.from_tensor_slices(train)
        .shuffle(len(train), seed=0)
        .map(
            lambda x: tf.image.random_flip_left_right(
                tf.image.random_crop(x, (args.crop, args.crop, 3))
            )
        )
        .batch(args.batch, drop_remainder=True)
        .prefetch(2)
    )
    deadline = time.time() + 60 * args.minutes
    epochs = 0
    losses = []
    while time.time() < deadline:
        h = model.fit(ds, epochs=1, verbose=0)
        epochs += 1
        losses.append(float(h.history["loss"][-1]))
        print(f"epoch {epochs}: loss {losses[-1]:.5f}", flush=True)
        if epochs == args.decay_after:
            model.optimizer.learning_rate.assign(args.lr / 5)
    model.save(out / "model.keras")
    return model, epochs, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument(
        "--downsample",
        action="store_true",
        help="strided half-resolution middle (default: full resolution)",
    )
    parser.add_argument(
        "--crop", type=int, default=32, help="side of the random training crops"
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--decay-after", type=int, default=6)
    parser.add_argument(
        "--train-sigma", type=float, nargs=2, default=[0.07, 0.13], metavar=("LO", "HI")
    )
    parser.add_argument("--out", default="runs/bench_denoise")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    parts = split(load_folder(rooms_root() / "rooms64" / "bedroom"))
    load_before = machine_load()
    start = time.time()
    model, epochs, losses = train_model(parts["train"], args, out)
    train_seconds = time.time() - start

    val_noisy = add_noise(parts["val"], seed=1)
    test_clean = parts["test"]
    test_noisy = add_noise(test_clean, seed=2)
    outputs = {"noisy input": (test_noisy, None)}
    denoised = np.clip(model.predict(test_noisy, batch_size=64, verbose=0), 0, 1)
    outputs["denoising autoencoder (ours)"] = (denoised, None)
    for name, (fn, params) in BASELINES.items():
        scores = {
            p: float(np.mean(psnr(parts["val"], fn(val_noisy, p)))) for p in params
        }
        best = max(scores, key=scores.get)
        outputs[name] = (fn(test_noisy, best), best)

    rows = []
    for name, (images, param) in outputs.items():
        rows.append(
            {
                "method": name,
                "parameter": param,
                "psnr": float(np.mean(psnr(test_clean, images))),
                "ssim": float(np.mean(ssim(test_clean, images))),
            }
        )
    triplets = np.concatenate(
        [np.stack([test_noisy[i], denoised[i], test_clean[i]]) for i in range(8)]
    )
    save_image_grid(
        np.clip(np.round(triplets * 255), 0, 255).astype(np.uint8),
        out / "triplets.png",
        columns=6,
        scale=2,
    )
    result = {
        "date": stamp(),
        "load_before": load_before,
        "load_after": machine_load(),
        "command": "python " + " ".join(sys.argv),
        "sigma": SIGMA,
        "split": {k: len(v) for k, v in parts.items()},
        "train_seconds": round(train_seconds),
        "epochs": epochs,
        "losses": losses,
        "model": {
            "width": args.width,
            "depth": args.depth,
            "downsample": args.downsample,
            "train_sigma": args.train_sigma,
            "crop": args.crop,
            "params": int(model.count_params()),
        },
        "rows": rows,
    }
    (out / "results.json").write_text(json.dumps(result, indent=2))
    print(f"\n{result['date']}, load {result['load_before']} -> {result['load_after']}")
    print("| method | parameter (chosen on val) | PSNR (dB) | SSIM |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        p = "-" if r["parameter"] is None else r["parameter"]
        print(f"| {r['method']} | {p} | {r['psnr']:.2f} | {r['ssim']:.3f} |")


if __name__ == "__main__":
    main()
