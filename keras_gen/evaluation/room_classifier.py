"""The room-type classifier whose features are keras-gen's default FID/KID embedding.

A small convolutional network trained to tell six room types apart
(bathroom, bedroom, dining room, entrance hall, kitchen, living room) on the
64x64 photos of Places365 (``places365-rooms/rooms64``). A network trained
on rooms has to see beds, windows, tiles and furniture to do that, so the
distance between two image sets in its pooled penultimate features measures
what a person sees in a room, which a random network does not (see
``docs/evaluation.md``: blur, JPEG blocks, pasted squares and collapse are
ordered as a person would only by these features).

The trained weights ship inside the package (``weights/rooms64_classifier.keras``,
with ``rooms64_classifier.json``: data, split, per-class validation accuracy,
seed, wall time). This module also rebuilds them:

    python -m keras_gen.evaluation.room_classifier \\
        --data ../shared/data/places365-rooms/rooms64 \\
        --out keras_gen/evaluation/weights

Example:
    >>> model = build_room_classifier(num_classes=6, widths=(8, 16, 16, 32))
    >>> model.get_layer(FEATURE_LAYER).output.shape
    (None, 32)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "FEATURE_LAYER",
    "WEIGHTS_DIR",
    "WEIGHTS_FILE",
    "build_room_classifier",
    "load_room_images",
    "split_per_class",
    "train_room_classifier",
]

#: Where the shipped classifier lives.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = WEIGHTS_DIR / "rooms64_classifier.keras"
#: The pooled penultimate layer: the feature vector of FID/KID/PR.
FEATURE_LAYER = "features"


def _conv_block(x, width: int, name: str):
    for i in (1, 2):
        x = keras.layers.Conv2D(
            width, 3, padding="same", use_bias=False, name=f"{name}_conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_room_classifier(
    num_classes: int = 6,
    image_size: int = 64,
    widths: Sequence[int] = (16, 32, 64, 128, 256),
    dropout: float = 0.3,
) -> keras.Model:
    """A VGG-style classifier of room types taking uint8-valued pixels.

    Input: float pixels in [0, 255] (rescaled inside, so the saved model is
    self-contained); stages of two 3x3 conv-BN-ReLU layers, each but the
    last followed by 2x2 max pooling (64 -> 4 px over the default five);
    global average pooling (the ``features`` layer, ``widths[-1]``
    dimensions); dropout; a dense softmax head.

    Args:
        num_classes: number of room types.
        image_size: input side.
        widths: channels of the stages.
        dropout: dropout rate before the head.

    Returns:
        A functional ``keras.Model`` named ``room_classifier``.
    """
    inputs = keras.Input((image_size, image_size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    for i, width in enumerate(widths):
        x = _conv_block(x, int(width), f"stage{i + 1}")
        if i < len(widths) - 1:
            x = keras.layers.MaxPooling2D(name=f"stage{i + 1}_pool")(x)
    features = keras.layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)
    x = keras.layers.Dropout(dropout, name="dropout")(features)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="room_type"
    )(x)
    return keras.Model(inputs, outputs, name="room_classifier")


def load_room_images(path: str | Path, image_size: int = 64):
    """All photos of a ``<room type>/<file>`` folder as uint8 arrays, in file order.

    Returns:
        ``(images [N, S, S, 3] uint8, labels [N] int32, class_names, files)``.
    """
    from keras_gen.data.folder import image_folder_dataset

    ds = image_folder_dataset(
        path,
        image_size=image_size,
        batch_size=512,
        value_range=(0.0, 255.0),
        training=False,
        cache=False,
        flip=False,
        labels="inferred",
        drop_remainder=False,
    )
    images, labels = [], []
    for x, y in ds:
        images.append(np.rint(x.numpy()).astype(np.uint8))
        labels.append(y.numpy().astype(np.int32))
    info = ds.folder_info
    return np.concatenate(images), np.concatenate(labels), info.class_names, info.files


def split_per_class(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``: ``fraction`` of every class held out, seeded."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_val = int(round(len(idx) * fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _augment(images, labels, seed_pair):
    """Flip and shift by up to 4 px (reflect padding): geometry only.

    No blur, noise or colour augmentation: the features must stay sensitive
    to exactly those damages.
    """
    size = tf.shape(images)[1]
    x = tf.cast(images, tf.float32)
    x = tf.image.stateless_random_flip_left_right(x, seed_pair)
    x = tf.pad(x, [[0, 0], [4, 4], [4, 4], [0, 0]], mode="REFLECT")
    x = tf.image.stateless_random_crop(
        x, [tf.shape(x)[0], size, size, 3], seed_pair + 1
    )
    return x, labels


def _train_dataset(images, labels, batch_size: int, seed: int) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=True)
    counter = tf.data.Dataset.counter(seed).map(lambda i: tf.stack([i, i * 7 + 1]))
    ds = tf.data.Dataset.zip((ds, counter)).map(
        lambda batch, s: _augment(batch[0], batch[1], s),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def per_class_accuracy(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> dict[str, float]:
    """Validation accuracy of every class, and ``overall``."""
    predicted = np.argmax(model.predict(images, batch_size=256, verbose=0), axis=-1)
    result = {
        name: float(np.mean(predicted[labels == i] == i))
        for i, name in enumerate(names)
    }
    result["overall"] = float(np.mean(predicted == labels))
    return result


def train_room_classifier(
    data: str | Path,
    out: str | Path = WEIGHTS_DIR,
    *,
    epochs: int = 20,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    validation_fraction: float = 0.1,
    seed: int = 0,
    widths: Sequence[int] = (16, 32, 64, 128, 256),
    precision: str = "auto",
) -> dict[str, Any]:
    """Train the room classifier; write ``rooms64_classifier.{keras,json}`` to ``out``.

    Seeded (split, weights, shuffle and augmentation); cosine-decayed AdamW.

    Returns:
        The training record written to the JSON file.
    """
    from keras_gen.precision import resolve_precision

    start = time.time()
    keras.utils.set_random_seed(seed)
    images, labels, names, files = load_room_images(data)
    train_idx, val_idx = split_per_class(labels, validation_fraction, seed)
    policy = resolve_precision(precision)
    keras.mixed_precision.set_global_policy(policy)
    model = build_room_classifier(len(names), images.shape[1], widths)
    steps = epochs * (len(train_idx) // batch_size)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            keras.optimizers.schedules.CosineDecay(learning_rate, steps),
            weight_decay=5e-4,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        _train_dataset(images[train_idx], labels[train_idx], batch_size, seed),
        validation_data=(images[val_idx].astype(np.float32), labels[val_idx]),
        epochs=epochs,
        verbose=2,
    )
    keras.mixed_precision.set_global_policy("float32")
    model = _as_float32(model, len(names), images.shape[1], widths)
    record = {
        "data": str(data),
        "class_names": list(names),
        "image_size": int(images.shape[1]),
        "num_images": {"train": int(len(train_idx)), "validation": int(len(val_idx))},
        "validation_files": [str(Path(files[i]).relative_to(data)) for i in val_idx],
        "validation_accuracy": per_class_accuracy(
            model, images[val_idx], labels[val_idx], names
        ),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "widths": [int(w) for w in widths],
        "seed": seed,
        "precision": policy,
        "wall_time_s": round(time.time() - start, 1),
        "machine": f"{platform.processor() or platform.machine()}, {_cores()} cores",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "command": (
            f"python -m keras_gen.evaluation.room_classifier --data {data} "
            f"--out {out} --epochs {epochs} --seed {seed}"
        ),
    }
    _write(model, record, Path(out))
    return record


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _as_float32(model: keras.Model, num_classes, image_size, widths) -> keras.Model:
    """The same weights in an all-float32 model, as shipped (no mixed policy saved)."""
    twin = build_room_classifier(num_classes, image_size, widths)
    twin.set_weights([np.asarray(w, np.float32) for w in model.get_weights()])
    return twin


def _write(model: keras.Model, record: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / WEIGHTS_FILE.name)
    (out / WEIGHTS_FILE.with_suffix(".json").name).write_text(
        json.dumps(record, indent=1) + "\n", encoding="utf-8"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description="Train the room-type classifier behind --features rooms.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", required=True, help="folder of <room type>/ photos")
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="output folder")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args(argv)
    record = train_room_classifier(
        args.data,
        args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        precision=args.precision,
    )
    print(json.dumps(record["validation_accuracy"], indent=1))
    return record


if __name__ == "__main__":
    main()
