"""One place that finds and loads a trained model for the commands that use one.

A MODEL argument is a run folder (its `model.keras`), a `.keras` file, a
SavedModel version folder, a model folder of a SavedModel repository (its
highest integer version), or `preset:NAME` (a pretrained model shipped with
the package, `keras_gen.presets`). Every loader here says what it found when the
model cannot do what was asked.

Example:
>>> gan = load_generator("runs/smoke_gan")  # doctest: +SKIP
>>> gan.generate_uint8(4, seed=0).shape  # doctest: +SKIP
(4, 32, 32, 3)
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from keras_gen.utils.files import run_model_file

#: What each kind of model is for, to point a user at the right command.
_USES = {
    "DenoisingAutoencoder": "a denoiser: use `keras-gen denoise`",
    "SeriesAutoencoder": "a time-series model: use `keras-gen series`",
    "SeriesVAE": "a time-series model: use `keras-gen series`",
}


def resolve_model_path(path: str | Path) -> Path:
    """The file or SavedModel folder that MODEL names (see the module doc).

    Raises:
        FileNotFoundError: nothing at `path`.
    """
    from keras_gen import presets

    name = presets.preset_name(path)
    if name is not None:
        return presets.model_path(name)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path}")
    path = run_model_file(path)
    return path if path.suffix == ".keras" else resolve_saved_model(path)


def resolve_saved_model(path: Path) -> Path:
    """A SavedModel folder: `path` itself, or its highest integer version."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = sorted(
        (
            p
            for p in (path.iterdir() if path.is_dir() else ())
            if p.name.isdigit() and (p / "saved_model.pb").is_file()
        ),
        key=lambda p: int(p.name),
    )
    if not versions:
        raise FileNotFoundError(
            f"{path}: not a run folder, a .keras file, a SavedModel folder "
            "(saved_model.pb) or a model folder with integer versions"
        )
    return versions[-1]


def load_keras(path: str | Path, compile: bool = True) -> Any:
    """The Keras model of a run folder or `.keras` file.

    Raises:
        FileNotFoundError: no such file, or MODEL is a SavedModel.
        ValueError: the file is not a `.keras` archive (truncated or corrupt),
            where Keras itself would say "File not found".
    """
    path = resolve_model_path(path)
    if path.suffix != ".keras":
        raise FileNotFoundError(
            f"{path}: a SavedModel; this needs the trained model (a run folder "
            "or its .keras file)"
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a valid .keras file (not a zip archive: truncated "
            "or corrupt); use the run's backup or train again"
        )
    from keras_gen.precision import load_model

    return load_model(path, compile=compile)


def describe(model: Any) -> str:
    """`"a DenoisingAutoencoder (a denoiser: use `keras-gen denoise`)"`."""
    name = type(model).__name__
    use = _USES.get(name)
    return f"a {name}" + (f" ({use})" if use else "")


def load_generator(path: str | Path, compile: bool = True) -> Any:
    """A trained `GAN` or `VAE` (anything that generates images).

    Raises:
        ValueError: the model does not generate images (named, with the
            command that uses it).
    """
    from keras_gen.models.base import GenerativeModel

    model = load_keras(path, compile=compile)
    if not isinstance(model, GenerativeModel):
        raise ValueError(
            f"{resolve_model_path(path)} holds {describe(model)}; "
            "it does not generate images"
        )
    return model


def class_ids(label: str | None, names: list[str], num: int) -> np.ndarray:
    """Class ids for a SavedModel's `label` input (cycling when `label` is None)."""
    if label is None:
        return np.arange(num) % len(names)
    if label in names:
        return np.full(num, names.index(label))
    if label.isdigit() and int(label) < len(names):
        return np.full(num, int(label))
    raise ValueError(f"unknown class {label!r}; classes: {', '.join(names)}")


def sample_images(
    model_path: str | Path, num: int, seed: int = 0, label: str | None = None
) -> np.ndarray:
    """uint8 images of seeds `seed .. seed+num-1` from a .keras file or SavedModel.

    `label` (a class name or id) picks the class of a conditional model; without
    it a conditional model cycles through its classes.
    """
    path = resolve_model_path(model_path)
    if path.suffix == ".keras":
        model = load_generator(path)
        if label is not None and not model.num_classes:
            raise ValueError(f"--label {label!r}: {path} is not a conditional model")
        return model.generate_uint8(num, seed=seed, labels=label)
    return _sample_saved_model(path, num, seed, label)


def load_signature(saved: str | Path, name: str, needed_for: str) -> tuple[Any, Any]:
    """`(loaded SavedModel, its signature name)`; the first owns the variables.

    Keep the loaded object alive while calling the signature: the signature
    alone does not hold the variables it reads.

    Raises:
        ValueError: the SavedModel has no such signature (its list named).
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved))
    if name not in loaded.signatures:
        raise ValueError(
            f"{saved}: a SavedModel without a {name!r} signature (it has: "
            f"{', '.join(sorted(loaded.signatures))}); {needed_for}"
        )
    return loaded, loaded.signatures[name]


def _sample_saved_model(
    saved: Path, num: int, seed: int, label: str | None
) -> np.ndarray:
    """`sample_images` through a SavedModel's `generate` signature."""
    import tensorflow as tf

    from keras_gen.export import read_class_names

    # `loaded` stays bound until the call: it owns the variables.
    loaded, signature = load_signature(saved, "generate", "it does not generate images")
    inputs = {"seed": tf.constant(np.arange(seed, seed + num, dtype=np.int64))}
    if "label" in signature.structured_input_signature[1]:
        names = read_class_names(saved)
        inputs["label"] = tf.constant(class_ids(label, names, num), tf.int64)
    elif label is not None:
        raise ValueError(f"--label {label!r}: {saved} is not a conditional model")
    return signature(**inputs)["images"].numpy()


def check_samples_out(out: str | Path, num: int) -> Path:
    """`out` as a Path, when it is a .png or .npz file and `num` >= 1."""
    out = Path(out)
    if out.suffix not in (".png", ".npz"):
        raise ValueError(f"--out must end in .png or .npz, got {out}")
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}")
    return out


def save_samples(images: np.ndarray, out: str | Path, seed: int = 0) -> Path:
    """Write `images` (uint8, of seeds `seed, seed+1, ...`) to `out`.

    A `.npz` holds the arrays `images` and `seeds`; a `.png` is a grid.
    """
    out = check_samples_out(out, len(images))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez_compressed(
            out, images=images, seeds=np.arange(seed, seed + len(images))
        )
    else:
        from keras_gen.utils.images import save_image_grid

        save_image_grid(images, out)
    return out


__all__ = [
    "check_samples_out",
    "class_ids",
    "describe",
    "load_generator",
    "load_keras",
    "load_signature",
    "resolve_model_path",
    "resolve_saved_model",
    "sample_images",
    "save_samples",
]
