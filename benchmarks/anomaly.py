"""Anomaly-detection benchmark: a VAE trained on bedrooms against simple baselines.

Real photos: a VAE is trained on the train split of rooms64/bedroom (split in
`benchmarks/common.py`); the held-back test bedrooms (normal) are scored
against the test split of every other room type (anomalies). For each score
(the VAE's negative ELBO, pixel and feature-space reconstruction errors,
and `complexity`: negative ELBO minus the PNG code length, in bits/dim,
Serra et al. 2020) and
each baseline (squared distance to the mean training image; kNN: mean squared
distance to the 5 nearest training images in pixel space) the table gives
ROC-AUC and the true-positive rate at 5% false positives per room type. The
negative-ELBO threshold is also calibrated at 5% FPR on the validation
bedrooms (`keras_gen.anomaly.fit_threshold`, as `keras-gen anomaly fit`
does) and its false-positive rate on the test bedrooms reported.

Procedural rooms (`--procedural`): a second VAE is trained on rendered rooms
without lamps and rugs (`render_rooms(..., has_lamp=False, has_rug=False)`);
test rooms are rendered from unseen seeds once as normal and once with a
planted anomaly (a lit lamp, a rug, or wall paint saturated beyond the
training range), so the pairs differ only by the planted object.

    python benchmarks/anomaly.py [--minutes 9] [--procedural-minutes 4]
        [--out runs/bench_anomaly] [--reuse DIR_OF_SAVED_MODELS]
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
from common import (  # noqa: E402
    TEST,
    load_folder,
    machine_load,
    rooms_root,
    split,
    stamp,
)

import keras_gen.models  # noqa: E402, F401  (registers the classes for loading)
from keras_gen import anomaly  # noqa: E402
from keras_gen.models import VAE  # noqa: E402
from keras_gen.models.vae.networks import VAE_ARCHITECTURES  # noqa: E402

ROOM_TYPES = (
    "bathroom",
    "dining_room",
    "entrance_hall",
    "kitchen",
    "living_room",
)


def train_vae(train: np.ndarray, args, minutes: float) -> tuple[VAE, int]:
    keras.utils.set_random_seed(0)
    size = train.shape[1]
    enc, dec = VAE_ARCHITECTURES[args.architecture]
    vae = VAE(
        enc(size, args.latent_dim, args.width),
        dec(size, args.latent_dim, args.width),
        likelihood="gaussian",
        gaussian_sigma=args.sigma,
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(args.lr))
    ds = (
        tf.data.Dataset.from_tensor_slices(train)
        .shuffle(len(train), seed=0)
        .map(tf.image.random_flip_left_right)
        .batch(args.batch, drop_remainder=True)
        .prefetch(2)
    )
    deadline = time.time() + 60 * minutes
    epochs = 0
    while time.time() < deadline:
        h = vae.fit(ds, epochs=1, verbose=0)
        epochs += 1
        print(
            f"epoch {epochs}: "
            + ", ".join(f"{k} {v[-1]:.4g}" for k, v in h.history.items()),
            flush=True,
        )
    return vae, epochs


def baselines(train: np.ndarray, images: np.ndarray, k: int = 5) -> dict:
    flat_train = train.reshape(len(train), -1).astype(np.float32)
    mean = flat_train.mean(axis=0)
    flat = images.reshape(len(images), -1).astype(np.float32)
    out = {"distance to mean image": np.mean((flat - mean) ** 2, axis=1)}
    sq_train = np.sum(flat_train**2, axis=1)
    knn = []
    for i in range(0, len(flat), 256):
        chunk = flat[i : i + 256]
        d = np.sum(chunk**2, axis=1)[:, None] - 2 * chunk @ flat_train.T + sq_train
        knn.append(np.mean(np.sort(d, axis=1)[:, :k], axis=1) / flat.shape[1])
    out[f"kNN pixel distance (k={k})"] = np.concatenate(knn)
    return out


def all_scores(vae: VAE, train: np.ndarray, images: np.ndarray) -> dict:
    scores = {f"VAE {k}": v for k, v in anomaly.compute_scores(vae, images).items()}
    scores.update(baselines(train, images))
    return scores


def table(normal: dict, groups: dict[str, dict]) -> list[dict]:
    rows = []
    for method in normal:
        row = {"method": method}
        for name, scores in groups.items():
            row[name] = {
                "auc": anomaly.roc_auc(normal[method], scores[method]),
                "tpr_at_5": anomaly.tpr_at_fpr(normal[method], scores[method], 0.05),
            }
        row["mean_auc"] = float(np.mean([row[n]["auc"] for n in groups]))
        rows.append(row)
    return rows


def print_table(rows: list[dict], groups: list[str]) -> None:
    print("| method | " + " | ".join(groups) + " | mean AUC |")
    print("| --- " * (len(groups) + 2) + "|")
    for r in rows:
        cells = [f"{r[g]['auc']:.3f} / {r[g]['tpr_at_5']:.2f}" for g in groups]
        print(f"| {r['method']} | " + " | ".join(cells) + f" | {r['mean_auc']:.3f} |")


def real_benchmark(args, out: Path) -> dict:
    root = rooms_root() / "rooms64"
    bedrooms = split(load_folder(root / "bedroom"))
    start = time.time()
    if args.reuse:
        # Scores of an already trained model (e.g. after adding a score).
        vae, epochs = keras.saving.load_model(Path(args.reuse) / "bedroom_vae.keras"), 0
    else:
        vae, epochs = train_vae(bedrooms["train"], args, args.minutes)
        vae.save(out / "bedroom_vae.keras")
    seconds = time.time() - start
    normal = all_scores(vae, bedrooms["train"], bedrooms["test"])
    groups = {}
    for room in ROOM_TYPES:
        images = load_folder(root / room)[-TEST:]
        groups[room] = all_scores(vae, bedrooms["train"], images)
    val = anomaly.compute_scores(vae, bedrooms["val"], ["nelbo"])["nelbo"]
    threshold = anomaly.fit_threshold(val, 0.05)
    rows = table(normal, groups)
    anomaly.plot_roc(
        normal["VAE nelbo"],
        {g: s["VAE nelbo"] for g, s in groups.items()},
        out / "real_roc.png",
        "VAE negative ELBO: bedroom vs other rooms",
    )
    anomaly.plot_histogram(
        {
            "bedroom": normal["VAE nelbo"],
            **{g: s["VAE nelbo"] for g, s in groups.items()},
        },
        out / "real_hist.png",
        threshold,
        "negative ELBO (nats)",
    )
    print_table(rows, list(groups))
    return {
        "train_seconds": round(seconds),
        "epochs": epochs,
        "split": {k: len(v) for k, v in bedrooms.items()},
        "rows": rows,
        "calibrated_threshold": threshold,
        "test_bedroom_fpr_at_val_threshold": float(
            np.mean(normal["VAE nelbo"] > threshold)
        ),
    }


PLANTED = {
    "lamp": {"has_lamp": True},
    "rug": {"has_rug": True},
    "saturated walls": {"wall_saturation": 0.9},
}


def procedural_benchmark(args, out: Path) -> dict:
    from keras_gen.data.rooms import render_rooms

    clean = {"has_lamp": False, "has_rug": False}
    train, _ = render_rooms(args.procedural_train, size=64, seed=0, **clean)
    train = train.astype(np.float32) / 255.0
    normal_imgs, _ = render_rooms(500, size=64, seed=7, **clean)
    normal_imgs = normal_imgs.astype(np.float32) / 255.0
    start = time.time()
    if args.reuse:
        vae = keras.saving.load_model(Path(args.reuse) / "procedural_vae.keras")
        epochs = 0
    else:
        vae, epochs = train_vae(train, args, args.procedural_minutes)
        vae.save(out / "procedural_vae.keras")
    seconds = time.time() - start
    normal = all_scores(vae, train, normal_imgs)
    groups = {}
    for name, planted in PLANTED.items():
        images, _ = render_rooms(500, size=64, seed=7, **{**clean, **planted})
        groups[name] = all_scores(vae, train, images.astype(np.float32) / 255.0)
    rows = table(normal, groups)
    anomaly.plot_roc(
        normal["VAE nelbo"],
        {g: s["VAE nelbo"] for g, s in groups.items()},
        out / "procedural_roc.png",
        "VAE negative ELBO: planted anomalies",
    )
    print_table(rows, list(groups))
    return {
        "train_seconds": round(seconds),
        "epochs": epochs,
        "train_images": len(train),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--procedural-minutes", type=float, default=4.0)
    parser.add_argument("--procedural-train", type=int, default=3000)
    parser.add_argument("--architecture", default="conv", choices=VAE_ARCHITECTURES)
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="score the models a previous run saved in DIR instead of training",
    )
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-procedural", action="store_true")
    parser.add_argument("--out", default="runs/bench_anomaly")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "date": stamp(),
        "load_before": machine_load(),
        "command": "python " + " ".join(sys.argv),
        "model": {
            k: getattr(args, k)
            for k in ("architecture", "latent_dim", "width", "sigma", "lr", "batch")
        },
    }
    if not args.skip_real:
        result["real"] = real_benchmark(args, out)
    if not args.skip_procedural:
        result["procedural"] = procedural_benchmark(args, out)
    result["load_after"] = machine_load()
    (out / "results.json").write_text(json.dumps(result, indent=2))
    print(f"{result['date']}, load {result['load_before']} -> {result['load_after']}")


if __name__ == "__main__":
    main()
