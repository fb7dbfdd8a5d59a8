"""Export a trained model as a new version of the model repository.

`export_generator` builds the signatures (`keras_gen.export.signatures`) and
publishes them as a version of the repository
(`keras_gen.export.repository`); `export_from_path` is `keras-gen export`.
"""

from __future__ import annotations

import json
from pathlib import Path

from keras_gen.export.repository import (
    CLASS_NAMES_FILE,
    WEIGHTS_FILE,
    next_version,
    publish_version,
    weights_digest,
)
from keras_gen.export.signatures import (
    MAX_BATCH,
    _is_dae,
    _is_vae,
    build_export_archive,
)
from keras_gen.models.base import GenerativeModel

__all__ = ["export_from_path", "export_generator", "load_for_export"]


def export_generator(
    model: GenerativeModel,
    export_dir: str | Path,
    name: str,
    version: int | None = None,
    overwrite: bool = False,
    anomaly_threshold: float | None = None,
    write_config: bool = True,
    base_path: str | None = None,
    keep_precision: bool = False,
    max_batch: int = MAX_BATCH,
) -> Path:
    """Export `model` as a SavedModel version for TF Serving.

    For a GAN only the (EMA) generator's variables are written (the
    discriminator is not needed to serve); for a VAE the encoder's and
    decoder's. The signatures are documented in `keras_gen.export.signatures`.

    Args:
        model: a trained `GAN` or `VAE`.
        export_dir: base folder of the model repository (e.g. `saved_models`).
        name: model name, the folder under `export_dir`.
        version: integer version; default: the next free one.
        overwrite: replace an existing version folder instead of failing.
        anomaly_threshold: VAE only; see `build_export_archive`.
        write_config: (re)write `<export_dir>/models.config` afterwards.
        base_path: the repository's path as the server sees it, for
            `models.config` (default: the absolute local path).
        keep_precision: see `build_export_archive` (default: float32).
        max_batch: see `build_export_archive`.

    Returns:
        The version folder that holds `saved_model.pb`.

    Example:
    >>> path = export_generator(gan, "saved_models", "demo_gan")  # doctest: +SKIP
    >>> path
    PosixPath('saved_models/demo_gan/1')
    """
    if anomaly_threshold is not None and not _is_vae(model):
        raise ValueError("anomaly_threshold applies to VAEs only")

    def write(folder: Path) -> None:
        archive = build_export_archive(
            model,
            anomaly_threshold=anomaly_threshold,
            keep_precision=keep_precision,
            max_batch=max_batch,
        )
        archive.write_out(str(folder), verbose=False)
        # assets.extra/ is the SavedModel folder for files TF Serving ignores.
        extra = folder / "assets.extra"
        extra.mkdir(exist_ok=True)
        digest = {"sha256": weights_digest(model)}
        (extra / WEIGHTS_FILE).write_text(json.dumps(digest) + "\n")
        class_names = getattr(model, "class_names", None)
        if class_names:
            # Clients read the class of each label id from it.
            (extra / CLASS_NAMES_FILE).write_text(
                json.dumps({"class_names": list(class_names)}, indent=1) + "\n"
            )

    return publish_version(
        write, export_dir, name, version, overwrite, write_config, base_path
    )


def load_for_export(source: str | Path) -> GenerativeModel:
    """Load the model to export from a run folder or a `.keras` file.

    Args:
        source: `runs/<name>` (its `model.keras` is used) or a `.keras` file.

    Returns:
        The loaded `GAN` or `VAE`.
    """
    from keras_gen.inference import describe, load_keras

    model = load_keras(source)
    if not isinstance(model, GenerativeModel) and not _is_dae(model):
        raise ValueError(f"{source} holds {describe(model)}, not a GAN, VAE or DAE")
    return model


def export_from_path(
    source: str | Path,
    export_dir: str | Path,
    name: str,
    version: int | None = None,
    overwrite: bool = False,
    anomaly_threshold: float | None = None,
    base_path: str | None = None,
    keep_precision: bool = False,
    max_batch: int = MAX_BATCH,
) -> Path:
    """`keras-gen export`: load a run folder or `.keras` file and export it.

    Args:
        source: see `load_for_export`.
        export_dir, name, version, overwrite, anomaly_threshold, base_path,
        keep_precision, max_batch: see `export_generator`.

    Returns:
        The version folder written.

    Example:
    >>> export_from_path("runs/demo_gan", "saved_models", "demo_gan")  # doctest: +SKIP
    PosixPath('saved_models/demo_gan/2')
    """
    if version is None:
        version = next_version(Path(export_dir) / name)
    target = Path(export_dir) / name / str(version)
    if target.exists() and not overwrite:
        # Before loading the model: refusing should not take seconds.
        raise FileExistsError(f"{target} exists; pass --overwrite or another version")
    model = load_for_export(source)
    return export_generator(
        model,
        export_dir,
        name,
        version=version,
        overwrite=overwrite,
        anomaly_threshold=anomaly_threshold,
        base_path=base_path,
        keep_precision=keep_precision,
        max_batch=max_batch,
    )
