"""Image sources of the evaluation: real data specs, models, SavedModels.

An :class:`ImageSource` is a stream of uint8 images ``[B, S, S, 3]`` in a
fixed order. Real and generated images go through the same path: uint8 at
the model's size -> the feature extractor's own resize.

Sources of real images (``--data SPEC``, :func:`real_source`):

- ``rooms``, ``rooms:N`` or ``rooms:N:SEED``: procedural rooms rendered batch
  by batch, with seed :data:`DEFAULT_ROOMS_SEED` (1000) by default, so that
  they are not the training rooms (training uses seed 0 unless configured).
- a folder path: every image under it, in sorted file order, resized and
  centre-cropped like the training data
  (:func:`keras_gen.data.folder.image_folder_dataset` with ``training=False``).

Generated images: :func:`generated_source` (a keras-gen model),
:func:`saved_model_source` (an exported model's ``generate`` signature) and
:func:`array_source` (images in memory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = [
    "DEFAULT_ROOMS_SEED",
    "ImageSource",
    "array_source",
    "generated_source",
    "real_source",
    "saved_model_source",
]

#: Seed of the procedural rooms used as real data (training uses 0).
DEFAULT_ROOMS_SEED = 1000


@dataclass
class ImageSource:
    """A stream of uint8 images ``[B, S, S, 3]`` in a fixed order.

    Attributes:
        description: what the images are (written to results).
        image_size: side of the images.
        available: how many images there are (None: unlimited).
        batches: function ``(count, batch_size) -> iterator of uint8 batches``
            yielding the first ``count`` images.
    """

    description: str
    image_size: int
    available: int | None
    batches: Callable[[int, int], Iterator[np.ndarray]]


def array_source(images: np.ndarray, description: str = "array") -> ImageSource:
    """An :class:`ImageSource` over uint8 images in memory."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f"expected uint8 images [N, S, S, 3], got {images.dtype} {images.shape}"
        )

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, min(count, len(images)), batch_size):
            yield images[start : min(start + batch_size, count)]

    return ImageSource(description, images.shape[1], len(images), batches)


def _rooms_source(spec: str, image_size: int) -> ImageSource:
    from keras_gen.data.rooms import image_seed, render_room
    from keras_gen.data.specs import parse_rooms_spec

    rooms = parse_rooms_spec(
        spec, default_seed=DEFAULT_ROOMS_SEED, count_required=False
    )
    limit, seed = rooms.count, rooms.seed

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        # Rendered a batch at a time (~1 ms an image at 64x64): never the
        # whole set in memory.
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            yield np.stack(
                [
                    render_room(image_seed(seed, i), image_size)[0]
                    for i in range(start, stop)
                ]
            )

    return ImageSource(f"rooms(seed={seed})", image_size, limit, batches)


def _folder_source(path: str, image_size: int) -> ImageSource:
    from keras_gen.data.folder import image_folder_dataset

    def dataset(batch_size: int) -> tf.data.Dataset:
        return image_folder_dataset(
            path,
            image_size=image_size,
            batch_size=batch_size,
            value_range=(0.0, 255.0),
            training=False,
            flip=False,
            cache=False,
            drop_remainder=False,
        )

    available = len(dataset(1).folder_info.files)

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        ds = dataset(batch_size).unbatch().take(count).batch(batch_size)
        for batch in ds:
            # value_range (0, 255) makes the pipeline's conversion the
            # identity, so these are the decoded uint8 values exactly.
            yield np.rint(batch.numpy()).astype(np.uint8)

    return ImageSource(f"folder {path}", image_size, available, batches)


def real_source(spec: str, image_size: int) -> ImageSource:
    """The real images named by a ``--data`` spec, at ``image_size``.

    Args:
        spec: ``rooms``, ``rooms:N``, ``rooms:N:SEED`` or a folder path.
        image_size: side the images are rendered or resized to (the model's).

    Returns:
        An :class:`ImageSource`.

    Raises:
        FileNotFoundError: for a folder that does not exist.
    """
    from keras_gen.data.specs import is_rooms_spec

    if is_rooms_spec(spec):
        return _rooms_source(spec, image_size)
    if not Path(spec).expanduser().is_dir():
        raise FileNotFoundError(
            f"--data {spec!r} is neither 'rooms[:N[:SEED]]' nor an existing folder"
        )
    return _folder_source(str(Path(spec).expanduser()), image_size)


def _decode_fn(model: Any) -> Callable[[tf.Tensor], tf.Tensor]:
    # The EMA generator, when a model has one, gives the better samples and is
    # what papers evaluate.
    ema = getattr(model, "ema_generator", None)
    if ema is not None:
        return lambda z: ema(z, training=False)
    return lambda z: model.decode_latents(z, training=False)


def saved_model_source(path: str | Path, seed: int = 0) -> ImageSource:
    """Images of an exported model's `generate` signature (seeds from `seed`).

    The same images as `generated_source` of the model it was exported from
    (the signature decodes the same latents; a conditional model cycles
    through its classes the same way).
    """
    from keras_gen.export import read_class_names
    from keras_gen.inference import load_signature

    loaded, signature = load_signature(path, "generate", "it does not generate images")
    conditional = "label" in signature.structured_input_signature[1]
    num_classes = len(read_class_names(path)) if conditional else None

    def run(seeds: tf.Tensor) -> np.ndarray:
        inputs = {"seed": seeds}
        if conditional:
            inputs["label"] = seeds % num_classes
        # Through `loaded`, which owns the variables the signature reads.
        return loaded.signatures["generate"](**inputs)["images"].numpy()

    image_size = int(run(tf.constant([seed], tf.int64)).shape[1])

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, count, batch_size):
            stop = seed + min(start + batch_size, count)
            yield run(tf.range(seed + start, stop, dtype=tf.int64))

    classes = ", classes in turn" if conditional else ""
    return ImageSource(
        f"SavedModel {path}, latent seeds from {seed}{classes}",
        image_size,
        None,
        batches,
    )


def generated_source(model: Any, seed: int = 0) -> ImageSource:
    """Images of a keras-gen model: image i decodes the latent of seed ``seed + i``.

    Uses ``model.ema_generator`` when the model has one. Images are quantised
    to uint8 exactly as ``generate_uint8`` does, so they take the same path as
    the real ones.
    """
    from keras_gen.data.pipeline import from_value_range
    from keras_gen.models.base import latents_from_seeds

    decode = _decode_fn(model)
    value_range = tuple(model.value_range)

    num_classes = getattr(model, "num_classes", None)

    @tf.function(reduce_retracing=True)
    def step(seeds: tf.Tensor) -> tf.Tensor:
        z = latents_from_seeds(seeds, model.latent_dim)
        if num_classes:
            # Classes in turn, so a conditional model is scored on all of them.
            z = [z, tf.cast(seeds % num_classes, tf.int32)]
        images = decode(z)
        return from_value_range(images, value_range)

    probe = step(tf.constant([seed], tf.int64))
    image_size = int(probe.shape[1])

    def batches(count: int, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            seeds = tf.range(seed + start, seed + stop, dtype=tf.int64)
            yield step(seeds).numpy()

    uses_ema = getattr(model, "ema_generator", None) is not None
    name = f"{type(model).__name__}{' (EMA generator)' if uses_ema else ''}"
    classes = ", classes in turn" if num_classes else ""
    return ImageSource(
        f"{name}, latent seeds from {seed}{classes}", image_size, None, batches
    )
