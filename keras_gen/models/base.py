"""What every keras-gen generative model shares: latents in, images out."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

SUPPORTED_SIZES = (32, 64, 128)


def num_stages(image_size: int) -> int:
    """Number of 2x resolution steps between 4x4 and `image_size`.

    Raises:
        ValueError: `image_size` is not one of `SUPPORTED_SIZES`.
    """
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(
            f"image_size must be one of {SUPPORTED_SIZES}, got {image_size}."
        )
    return int(math.log2(image_size // 4))


def latents_from_seeds(seeds, latent_dim: int):
    """One standard-normal latent vector per integer seed, `[len(seeds), latent_dim]`.

    The same seed gives the same vector in every process and in exported
    SavedModels (stateless RNG), so an image can be named by its seed.
    """
    seeds = tf.cast(tf.reshape(seeds, (-1,)), tf.int64)

    def one(seed):
        return tf.random.stateless_normal(
            (latent_dim,), seed=tf.stack([seed, tf.zeros_like(seed)])
        )

    return tf.map_fn(
        one, seeds, fn_output_signature=tf.TensorSpec((latent_dim,), tf.float32)
    )


def deserialize_networks(config: dict, *keys: str) -> dict:
    """A copy of a model's config with the sub-models under `keys` rebuilt.

    The `from_config` of every model that takes networks as arguments.
    """
    config = dict(config)
    for key in keys:
        config[key] = keras.layers.deserialize(config[key])
    return config


def images_to_uint8(images, value_range) -> np.ndarray:
    """Float images in `value_range` -> uint8 numpy in [0, 255]."""
    low, high = value_range
    images = (np.asarray(images, dtype=np.float32) - low) / (high - low)
    return np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)


def images_from_data(data):
    """The image tensor of a batch that is `x`, `(x, y)`, `(x, y, w)` or a dict."""
    if isinstance(data, dict):
        return data["image"] if "image" in data else data["images"]
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def labels_from_data(data):
    """The label tensor of a batch that is `(x, y)` or a dict with "label(s)"."""
    if isinstance(data, dict):
        for key in ("label", "labels"):
            if key in data:
                return data[key]
    elif isinstance(data, (tuple, list)) and len(data) > 1:
        return data[1]
    raise ValueError(
        "a conditional model needs (images, labels) batches; the dataset "
        "yields images only (set data.labels in the config, e.g. 'inferred' "
        "for a folder of class sub-folders)"
    )


class SeedStateMixin:
    """Saves the state of a layer's `SeedGenerator`s with its variables.

    Keras 3.15 leaves seed-generator states out of `.keras` files, weight files
    and `BackupAndRestore` backups, so a resumed run would replay the noise of
    its first steps. The states are stored next to the layer's own variables
    under `seed_<i>` keys; files without them still load.
    """

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, generator in enumerate(self._seed_generators):
            store[f"seed_{i}"] = generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        own = {k: store[k] for k in keys if not k.startswith("seed_")}
        super().load_own_variables(own)
        for i, generator in enumerate(self._seed_generators):
            if f"seed_{i}" in keys:
                generator.state.assign(np.asarray(store[f"seed_{i}"]))


class TrackedLogsMixin:
    """Loss trackers of a custom `train_step`, reset by `fit` every epoch.

    A subclass sets `self._trackers = {name: keras.metrics.Mean(name=name)}`
    and returns `self._logs()` from its steps after `self._record(values)`.
    """

    def _record(self, values: dict):
        """Update the trackers named in `values` with this replica's means.

        Keras sums metric states over replicas, so local means of equal-sized
        local batches read back as the global mean.
        """
        for name, value in values.items():
            self._trackers[name].update_state(value)

    @property
    def metrics(self):
        # Listing the trackers here lets `fit` reset them at each epoch.
        return list(self._trackers.values())

    def _logs(self):
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        if isinstance(
            tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy
        ):
            # Keras 3.15 fails to reduce scalar logs across workers
            # ("Invalid reduction dimension 0", tensorflow#72388); shape (1,)
            # works, and the trainer squeezes them back for the callbacks.
            logs = {name: tf.reshape(value, (1,)) for name, value in logs.items()}
        return logs


class PresetMixin:
    """`Model.from_preset(name)`, KerasHub style, for the shipped presets."""

    @classmethod
    def from_preset(cls, name: str, compile: bool = False):
        """The preset `name` (see `keras_gen.presets`), checked to be a `cls`.

        Example:
        >>> gan = GAN.from_preset("procedural_gan_64")  # doctest: +SKIP
        """
        from keras_gen.presets import from_preset

        return from_preset(cls, name, compile=compile)


class GenerativeModel(PresetMixin, TrackedLogsMixin, SeedStateMixin, keras.Model):
    """Base of `GAN` and `VAE`: decode latents, generate, report metrics.

    Subclasses set `latent_dim`, `value_range` and implement `decode_latents`.
    """

    value_range: tuple[float, float] = (-1.0, 1.0)

    def decode_latents(self, z, training=False):
        raise NotImplementedError

    def call(self, z, training=False):
        return self.decode_latents(z, training=training)

    #: Number of classes of a conditional model (None: unconditional).
    num_classes: int | None = None
    class_names: list[str] | None = None

    def class_ids(self, labels, num_images: int) -> np.ndarray:
        """int32 class ids `[num_images]` from ids or names (one, or one per image).

        None cycles through the classes (0, 1, ..., 0, 1, ...).
        """
        if not self.num_classes:
            if labels is not None:
                raise ValueError("labels given, but the model is not conditional")
            return None
        if labels is None:
            return (np.arange(num_images) % self.num_classes).astype(np.int32)
        values = np.atleast_1d(np.asarray(labels, dtype=object))
        names = list(self.class_names or [])
        ids = []
        for value in values:
            if isinstance(value, str) and value in names:
                ids.append(names.index(value))
                continue
            try:
                ids.append(int(value))
            except (TypeError, ValueError):
                raise ValueError(
                    f"unknown class {value!r}; classes: {', '.join(names)}"
                ) from None
            if not 0 <= ids[-1] < self.num_classes:
                raise ValueError(
                    f"class id {ids[-1]} out of range [0, {self.num_classes}); "
                    f"classes: {', '.join(names)}"
                )
        ids = np.asarray(ids, dtype=np.int32)
        if len(ids) == 1:
            return np.full((num_images,), ids[0], np.int32)
        if len(ids) != num_images:
            raise ValueError(f"{len(ids)} labels for {num_images} images")
        return ids

    def generate(
        self,
        num_images: int,
        seed: int | None = None,
        batch_size: int = 64,
        labels=None,
    ):
        """`num_images` new images as a float numpy array in `value_range`.

        Args:
            num_images: how many images.
            seed: integer seed; image i is the image of seed `seed + i` (as in
                the exported `generate` signature). None draws fresh latents.
            batch_size: images decoded per forward pass.
            labels: conditional models: a class (id or name) for all images,
                or one per image; None cycles through the classes.
        """
        if seed is None:
            z = keras.random.normal((num_images, self.latent_dim))
        else:
            z = latents_from_seeds(np.arange(seed, seed + num_images), self.latent_dim)
        ids = self.class_ids(labels, num_images)
        inputs = z if ids is None else [np.asarray(z), ids]
        return self.predict(inputs, batch_size=batch_size, verbose=0)

    def generate_uint8(
        self, num_images: int, seed: int | None = None, labels=None
    ) -> np.ndarray:
        """Like `generate`, as uint8 `[num_images, H, W, 3]`."""
        return images_to_uint8(
            self.generate(num_images, seed=seed, labels=labels), self.value_range
        )
