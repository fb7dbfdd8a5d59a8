"""Feature extractors for FID, KID and precision/recall: uint8 images in, vectors out.

Four kinds, all behind one interface (:class:`FeatureExtractor`):

- :class:`RoomFeatures` (the default, ``--features rooms``): the pooled
  penultimate layer of keras-gen's room-type classifier, trained on Places365
  room photos at 64x64 and shipped inside the package (see
  ``keras_gen.evaluation.room_classifier``). Validated against known damage
  in ``docs/evaluation.md``: it orders blur, noise, JPEG blocks, pasted
  squares, checkerboards and mode collapse as a person would.
- :class:`InceptionFeatures`: ``keras.applications.InceptionV3`` without its
  top, average-pooled ``mixed10`` features (2048-d), images resized to 299x299
  (bilinear) and scaled to [-1, 1]: the standard FID recipe. The weights come
  only from a file the user gives; nothing is downloaded at run time.
- :class:`KerasModelFeatures`: any Keras model (or a ``.keras`` file) and,
  optionally, the name of the layer whose output is the feature (spatial maps
  are average-pooled), e.g. a classifier trained on room types.
- :class:`RandomConvFeatures`: a small convolutional network with fixed random
  weights (numpy seed), a fallback that does NOT measure image quality (it
  scores JPEG blocks, noise and kitchens as real bedrooms, see
  ``docs/evaluation.md``). Features
  of untrained networks are a known, non-standard but useful proxy (Naeem et
  al., "Reliable Fidelity and Diversity Metrics for Generative Models", ICML
  2020, evaluate metrics in the embedding of a randomly initialised VGG16):
  they rank blur, noise and mode dropping sensibly, but their numbers are NOT
  comparable with published FID/KID values, and every result carries that note.

How :class:`InceptionFeatures` relates to published FIDs
--------------------------------------------------------
Published FIDs (Heusel et al. 2017, TTUR code; also clean-fid and
torch-fidelity in their default mode) use the TF1 graph
``classify_image_graph_def.pb`` of ``inception-2015-12-05`` and its ``pool_3``
tensor. Keras' ``InceptionV3`` weights are a *different* checkpoint of the
same architecture, with the same 2048-d pool features, and the TF1 graph
resizes with the legacy bilinear kernel
(``align_corners=False`` without half-pixel centres) while this code uses
``tf.image.resize``'s half-pixel bilinear. Numbers from Keras weights are
therefore close in behaviour and in magnitude but not identical to published
ones: compare models with one another under the same extractor, image size and
number of images, and quote published baselines only when they were computed
with the same extractor.

Example:
    >>> import numpy as np
    >>> extractor = RoomFeatures()
    >>> images = np.zeros((4, 64, 64, 3), np.uint8)
    >>> extractor(images).shape
    (4, 256)
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_gen.utils.files import file_digest

__all__ = [
    "INCEPTION_WEIGHTS_ENV",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_WEIGHTS_MD5",
    "INCEPTION_WEIGHTS_URL",
    "FeatureExtractor",
    "InceptionFeatures",
    "KerasModelFeatures",
    "RandomConvFeatures",
    "RoomFeatures",
    "get_feature_extractor",
]

#: The Keras file to give to :class:`InceptionFeatures` (no classifier head).
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: Where Keras itself downloads it from.
INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    + INCEPTION_WEIGHTS_FILE
)
#: MD5 of the official file (as checked by ``keras.applications``).
INCEPTION_WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"
#: Environment variable naming the weights file when no path is passed.
INCEPTION_WEIGHTS_ENV = "KERAS_GEN_INCEPTION_WEIGHTS"

RANDOM_FEATURES_WARNING = (
    "random-conv features do not measure image quality: they put JPEG "
    "blocks, pixel noise of sigma 0.05 and photos of kitchens at the "
    "real-vs-real floor of bedrooms (docs/evaluation.md). Use the default "
    "--features rooms."
)

NOT_COMPARABLE_NOTE = (
    "features from a fixed random network (keras-gen 'random-conv'): numbers are "
    "comparable only with other keras-gen evaluations using the same features, "
    "image size and number of images, NOT with published FID/KID values"
)


class FeatureExtractor:
    """Maps batches of uint8 images ``[B, H, W, 3]`` to float32 features ``[B, D]``.

    Subclasses set :attr:`name`, :attr:`dim`, :attr:`comparable` and
    :attr:`note` and implement :meth:`_features` (a TensorFlow function of a
    uint8 batch), which this class wraps in one ``tf.function`` traced once per
    input image size.

    Attributes:
        name: short identifier written to results (``"inception_v3"``, ...).
        dim: feature dimension.
        comparable: whether numbers can be compared with published FID/KID.
        note: a sentence about the features, written to results.
    """

    name: str = "features"
    dim: int = 0
    comparable: bool = False
    note: str = ""

    def __init__(self) -> None:
        self._fn = tf.function(
            self._features,
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)],
            reduce_retracing=True,
        )

    def _features(self, images: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def __call__(
        self, images: np.ndarray | tf.Tensor, batch_size: int = 64
    ) -> np.ndarray:
        """Features of ``images`` (uint8 ``[N, H, W, 3]``), computed in batches.

        Args:
            images: uint8 images (numpy or tensor). Floats are rejected because
                their range would be ambiguous; convert with
                ``keras_gen.data.pipeline.from_value_range`` first.
            batch_size: images per forward pass.

        Returns:
            float32 numpy array ``[N, dim]``.
        """
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"expected uint8 images [N, H, W, 3], got {images.dtype} {images.shape}"
            )
        out = [
            self._fn(tf.constant(images[i : i + batch_size])).numpy()
            for i in range(0, len(images), batch_size)
        ]
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    def describe(self) -> dict[str, Any]:
        """What to write next to the numbers (name, dim, comparability, note)."""
        return {
            "name": self.name,
            "dim": self.dim,
            "comparable_with_published": self.comparable,
            "note": self.note,
        }


def _pool(x: tf.Tensor) -> tf.Tensor:
    """Average over spatial axes so any layer output becomes ``[B, D]``."""
    if x.shape.rank is not None and x.shape.rank > 2:
        x = tf.reduce_mean(x, axis=list(range(1, x.shape.rank - 1)))
    return tf.reshape(x, [tf.shape(x)[0], -1])


class RandomConvFeatures(FeatureExtractor):
    """A fixed, untrained convolutional network: features without any download.

    Images are resized to ``input_size`` (bilinear, antialiased), scaled to
    [-1, 1] and passed through stride-2 3x3 convolutions with ReLU, He-normal
    weights drawn from ``numpy.random.default_rng(seed)`` (so the weights are
    the same on every machine and Keras version) and zero biases. The feature
    vector concatenates the global average of every stage, from colour and
    fine texture (first stage) to the layout of the whole room (the last
    stage's receptive field covers the image): 32+64+128+256+512 = 992
    dimensions with the default widths.

    The numbers are NOT comparable with published FID/KID (see the module
    doc); every result produced with these features says so.

    Args:
        seed: seed of the weights. Change it only to study the spread of the
            metric over random networks.
        widths: channels of the successive stages.
        input_size: side images are resized to (fixed, so one network serves
            every model size).

    Example:
        >>> f = RandomConvFeatures()
        >>> f(np.full((2, 32, 32, 3), 128, np.uint8)).shape
        (2, 992)
    """

    name = "random-conv"
    comparable = False
    note = NOT_COMPARABLE_NOTE

    def __init__(
        self,
        seed: int = 0,
        widths: Sequence[int] = (32, 64, 128, 256, 512),
        input_size: int = 64,
    ) -> None:
        self.seed = seed
        self.widths = tuple(int(w) for w in widths)
        self.input_size = int(input_size)
        rng = np.random.default_rng(seed)
        self._kernels: list[tf.Tensor] = []
        channels = 3
        for width in self.widths:
            fan_in = 3 * 3 * channels
            kernel = rng.standard_normal((3, 3, channels, width)) * np.sqrt(
                2.0 / fan_in
            )
            self._kernels.append(tf.constant(kernel, tf.float32))
            channels = width
        self.dim = int(sum(self.widths))
        self.name = f"random-conv(seed={seed})" if seed else "random-conv"
        super().__init__()

    def _features(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.cast(images, tf.float32)
        size = self.input_size
        x = tf.cond(
            tf.logical_and(tf.shape(x)[1] == size, tf.shape(x)[2] == size),
            lambda: x,
            lambda: tf.image.resize(x, (size, size), antialias=True),
        )
        x = x / 127.5 - 1.0
        pooled = []
        for kernel in self._kernels:
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=2, padding="SAME"))
            pooled.append(tf.reduce_mean(x, axis=[1, 2]))
        return tf.concat(pooled, axis=-1)


class InceptionFeatures(FeatureExtractor):
    """InceptionV3 pool features (2048-d), the standard FID/KID embedding.

    Images are resized to 299x299 with bilinear interpolation (upsampling from
    the usual 32-128 px, so no antialiasing is involved), scaled to [-1, 1]
    (``keras.applications.inception_v3.preprocess_input``) and passed through
    ``InceptionV3(include_top=False, pooling="avg")``.

    The weights are never downloaded here: give the Keras file
    ``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`` (from
    :data:`INCEPTION_WEIGHTS_URL`) by path or through the environment variable
    ``KERAS_GEN_INCEPTION_WEIGHTS``; a file already in Keras' cache
    (``~/.keras/models/``) is used too. See the module doc for how the numbers
    relate to the reference TF1 Inception graph.

    Args:
        weights: path of the ``.h5`` weights file, or None to use the
            environment variable or Keras' cache.

    Raises:
        FileNotFoundError: when no weights file is found; the message names the
            file to download, its URL and how to pass it.

    Example:
        >>> # extractor = InceptionFeatures("~/inception_v3_..._notop.h5")
        >>> # extractor(uint8_images).shape -> (N, 2048)
    """

    name = "inception_v3"
    dim = 2048
    comparable = True
    input_size = 299

    def __init__(self, weights: str | os.PathLike[str] | None = None) -> None:
        path = self.find_weights(weights)
        self.weights_path = path
        self.weights_md5 = file_digest(path, "md5")
        self.official_weights = self.weights_md5 == INCEPTION_WEIGHTS_MD5
        self.model = keras.applications.InceptionV3(
            include_top=False,
            pooling="avg",
            weights=str(path),
            input_shape=(self.input_size, self.input_size, 3),
        )
        if self.official_weights:
            self.note = (
                "Keras InceptionV3 weights (md5 matches the official file): "
                "close to, but not identical with, the TF1 'pool_3' graph of "
                "published FIDs"
            )
        else:
            # Not an error: users may have re-saved the file, and the tests use
            # random weights. But the numbers must not be read as FIDs then.
            self.comparable = False
            self.note = (
                f"InceptionV3 weights from {path} whose md5 ({self.weights_md5}) "
                f"is not the official Keras file's ({INCEPTION_WEIGHTS_MD5}): "
                "numbers are not comparable with published FIDs"
            )
        super().__init__()

    @staticmethod
    def find_weights(weights: str | os.PathLike[str] | None = None) -> Path:
        """Resolve the weights file: argument, environment variable, Keras cache.

        Raises:
            FileNotFoundError: naming the file to download and where to pass it.
        """
        candidates: list[tuple[str, Path]] = []
        if weights:
            candidates.append(("given path", Path(weights).expanduser()))
        elif os.environ.get(INCEPTION_WEIGHTS_ENV):
            candidates.append(
                (
                    f"${INCEPTION_WEIGHTS_ENV}",
                    Path(os.environ[INCEPTION_WEIGHTS_ENV]).expanduser(),
                )
            )
        else:
            keras_home = Path(
                os.environ.get("KERAS_HOME", Path.home() / ".keras")
            ).expanduser()
            candidates.append(
                ("Keras cache", keras_home / "models" / INCEPTION_WEIGHTS_FILE)
            )
        for _, path in candidates:
            if path.is_file():
                return path
        where = ", ".join(f"{what} {path}" for what, path in candidates)
        raise FileNotFoundError(
            f"InceptionV3 weights not found ({where}). keras-gen never downloads "
            f"them at run time: download {INCEPTION_WEIGHTS_FILE} from "
            f"{INCEPTION_WEIGHTS_URL} (md5 {INCEPTION_WEIGHTS_MD5}) on a machine "
            f"with internet, copy it here, and pass it with --inception-weights "
            f"PATH (Python: InceptionFeatures(PATH)) or the environment variable "
            f"{INCEPTION_WEIGHTS_ENV}=PATH. Without them, use the default "
            "--features rooms (numbers not comparable with published FIDs)."
        )

    def _features(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.image.resize(
            tf.cast(images, tf.float32),
            (self.input_size, self.input_size),
            method="bilinear",
        )
        x = x / 127.5 - 1.0
        return self.model(x, training=False)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            weights=str(self.weights_path),
            weights_md5=self.weights_md5,
            official_weights=self.official_weights,
        )
        return info


def _find_layer(
    model: keras.Model, name: str
) -> tuple[keras.Model, keras.layers.Layer]:
    """The layer called ``name`` and the innermost functional model holding it."""
    try:
        return model, model.get_layer(name)
    except ValueError:
        pass
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            try:
                return _find_layer(layer, name)
            except ValueError:
                continue
    raise ValueError(f"no layer named {name!r} in model {model.name!r}")


class KerasModelFeatures(FeatureExtractor):
    """Features from any Keras model, optionally at a named layer.

    Images are resized (bilinear) to the model's input size when it is fixed,
    mapped linearly from [0, 255] to ``input_range``, and the output of
    ``layer`` (or of the model) is average-pooled over its spatial axes if it
    has any. A layer inside a nested functional model (e.g. the discriminator
    inside a saved ``GAN``) is found too.

    Args:
        model: a Keras model or the path of a ``.keras`` file.
        layer: name of the layer whose output is the feature; None uses the
            model's output.
        input_range: ``(low, high)`` the model expects its pixels in.
        name: identifier written to results (default: model and layer names).

    Example:
        >>> inp = keras.Input((32, 32, 3))
        >>> out = keras.layers.Conv2D(8, 3, name="conv")(inp)
        >>> f = KerasModelFeatures(keras.Model(inp, out), layer="conv")
        >>> f(np.zeros((2, 64, 64, 3), np.uint8)).shape
        (2, 8)
    """

    comparable = False

    def __init__(
        self,
        model: keras.Model | str | os.PathLike[str],
        layer: str | None = None,
        input_range: tuple[float, float] = (0.0, 1.0),
        name: str | None = None,
    ) -> None:
        source = None
        if not isinstance(model, keras.Model):
            source = str(model)
            import keras_gen.models  # noqa: F401  (registers keras-gen classes)

            model = keras.saving.load_model(source, compile=False)
        holder = model
        if layer is not None:
            holder, found = _find_layer(model, layer)
            if not holder.inputs:
                raise ValueError(
                    f"layer {layer!r} is inside a subclassed model without a "
                    "functional graph; give a functional model instead"
                )
            holder = keras.Model(holder.inputs, found.output)
        self.model = holder
        self.input_range = (float(input_range[0]), float(input_range[1]))
        shape = tuple(self.model.inputs[0].shape[1:3]) if self.model.inputs else ()
        self.input_hw = shape if shape and None not in shape else None
        self.name = name or f"keras:{source or model.name}" + (
            f":{layer}" if layer else ""
        )
        self.note = (
            "features of a user Keras model: comparable only with evaluations "
            "using the same model, layer, image size and number of images"
        )
        super().__init__()
        height, width = self.input_hw or (64, 64)
        probe = self._fn(tf.zeros([1, height, width, 3], tf.uint8))
        self.dim = int(probe.shape[-1])

    def _features(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.cast(images, tf.float32)
        if self.input_hw is not None:
            x = tf.image.resize(x, self.input_hw, method="bilinear")
        low, high = self.input_range
        x = x * ((high - low) / 255.0) + low
        return tf.cast(_pool(self.model(x, training=False)), tf.float32)


class RoomFeatures(KerasModelFeatures):
    """keras-gen's room-type classifier: pooled penultimate features (the default).

    The classifier (``keras_gen/evaluation/weights/rooms64_classifier.keras``,
    1.2M parameters, 256-d features) ships inside the package: no download
    and no data set is needed at run time. Images of any size are resized to
    its 64x64 input (box-averaged when shrinking, so a 256 px photo is
    averaged instead of aliased; bilinear when enlarging) and fed as pixels
    in [0, 255].

    Args:
        weights: another ``.keras`` file of the same classifier (e.g. one
            rebuilt with ``python -m keras_gen.evaluation.room_classifier``);
            None uses the shipped one.

    Example:
        >>> f = RoomFeatures()
        >>> f(np.zeros((2, 256, 256, 3), np.uint8)).shape
        (2, 256)
    """

    def __init__(self, weights: str | os.PathLike[str] | None = None) -> None:
        from keras_gen.evaluation.room_classifier import FEATURE_LAYER, WEIGHTS_FILE

        path = Path(weights or WEIGHTS_FILE).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"room classifier weights not found: {path}. Rebuild them with "
                "python -m keras_gen.evaluation.room_classifier --data ROOMS64_DIR"
            )
        self.weights_path = path
        self.weights_sha256 = file_digest(path)
        record = path.with_suffix(".json")
        self.record = (
            json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        )
        super().__init__(path, layer=FEATURE_LAYER, input_range=(0.0, 255.0))
        self.name = "rooms" if weights is None else f"rooms:{path}"
        self.note = (
            "pooled penultimate features of keras-gen's room-type classifier "
            f"(sha256 {self.weights_sha256[:12]}): comparable only with keras-gen "
            "evaluations using the same features, image size and number of "
            "images, NOT with published FID/KID values"
        )

    def _features(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.cast(images, tf.float32)
        # Box averaging when shrinking (an integer factor gives back exactly
        # the image that was upscaled), bilinear when enlarging.
        shrink = tf.shape(x)[1] >= self.input_hw[0]
        x = tf.cond(
            shrink,
            lambda: tf.image.resize(x, self.input_hw, method="area"),
            lambda: tf.image.resize(x, self.input_hw, method="bilinear"),
        )
        return tf.cast(_pool(self.model(x, training=False)), tf.float32)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        accuracy = self.record.get("validation_accuracy", {})
        info.update(
            weights=str(self.weights_path),
            weights_sha256=self.weights_sha256,
            classifier_validation_accuracy=accuracy.get("overall"),
        )
        return info


def _split_model_spec(spec: str) -> tuple[Path, str | None]:
    """'model.keras:layer' -> (path, layer); a bare path has no layer."""
    path, sep, layer = spec.rpartition(":")
    if sep and path.endswith((".keras", ".h5")) and layer:
        return Path(path).expanduser(), layer
    return Path(spec).expanduser(), None


def get_feature_extractor(
    spec: str | FeatureExtractor = "rooms",
    *,
    inception_weights: str | os.PathLike[str] | None = None,
    layer: str | None = None,
    input_range: tuple[float, float] = (0.0, 1.0),
) -> FeatureExtractor:
    """A feature extractor by name, as the ``--features`` option takes it.

    Args:
        spec: ``"rooms"`` (default: the shipped room classifier),
            ``"inception"`` (needs ``inception_weights``, the environment
            variable or Keras' cache), ``"random"`` (a fixed random network:
            a fallback that warns, as it does not measure image quality), or
            the path of a ``.keras`` model, optionally ``PATH.keras:layer``.
            An existing :class:`FeatureExtractor` is returned as is.
        inception_weights: weights file for ``"inception"``.
        layer: layer name for a user model.
        input_range: pixel range a user model expects.

    Returns:
        The extractor.

    Example:
        >>> get_feature_extractor("rooms").dim
        256
    """
    if isinstance(spec, FeatureExtractor):
        return spec
    if spec == "rooms":
        return RoomFeatures()
    if spec in ("random-conv", "random"):
        warnings.warn(RANDOM_FEATURES_WARNING, UserWarning, stacklevel=2)
        return RandomConvFeatures()
    if spec in ("inception", "inception_v3", "inception-v3"):
        return InceptionFeatures(inception_weights)
    path, spec_layer = _split_model_spec(spec)
    if path.suffix in (".keras", ".h5") or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"feature model not found: {path}")
        return KerasModelFeatures(
            path, layer=spec_layer or layer, input_range=input_range
        )
    raise ValueError(
        f"unknown features {spec!r}: use 'rooms', 'inception', 'random' or "
        "PATH.keras[:layer]"
    )
