"""The TF Serving model repository: versions, `models.config`, publishing.

Layout written under the export folder (`saved_models/` by default), the
model-repository layout that `tensorflow_model_server` reads::

    saved_models/
      models.config          TF Serving model-config file listing every model
      <name>/<version>/      saved_model.pb, variables/, fingerprint.pb

A version is written to a hidden temporary folder and renamed into place, so
a server polling the folder never loads a half-written model. The files
keras-gen adds to a version's `assets.extra/` (ignored by TF Serving) are
the sha256 of the exported weights (`WEIGHTS_FILE`, see
`same_weights_version`) and a conditional model's class names
(`CLASS_NAMES_FILE`, see `read_class_names`).

The signatures inside each version are documented in
`keras_gen.export.signatures`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from keras_gen.utils.locks import FolderLock
from keras_gen.utils.names import check_name, is_valid_name
from keras_gen.utils.processes import pid_alive

__all__ = [
    "CLASS_NAMES_FILE",
    "MODELS_CONFIG",
    "WEIGHTS_FILE",
    "list_models",
    "models_config_text",
    "next_version",
    "publish_version",
    "read_class_names",
    "remove_stale_temporaries",
    "same_weights_version",
    "weights_digest",
    "write_models_config",
]

MODELS_CONFIG = "models.config"
#: File of a conditional model's class names in `<version>/assets.extra/`.
CLASS_NAMES_FILE = "keras_gen_classes.json"
#: assets.extra/ file with the sha256 of the exported model's weights.
WEIGHTS_FILE = "keras_gen_weights.json"


def next_version(model_dir: str | Path) -> int:
    """1 + the highest integer version folder under `model_dir` (1 if none).

    Example:
    >>> next_version("/nonexistent")
    1
    """
    model_dir = Path(model_dir)
    versions = [
        int(p.name)
        for p in model_dir.glob("*")
        if p.is_dir() and re.fullmatch(r"\d+", p.name)
    ]
    return max(versions, default=0) + 1


def list_models(export_dir: str | Path) -> list[str]:
    """Names of the models under `export_dir` that have a servable version.

    A model counts when one of its integer version folders holds a
    `saved_model.pb` (TF Serving would fail to load a name without one).

    Args:
        export_dir: the model repository (e.g. `saved_models`).

    Returns:
        Sorted model names.
    """
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        return []
    return sorted(
        d.name
        for d in export_dir.iterdir()
        if d.is_dir()
        and is_valid_name(d.name)
        and any(
            v.name.isdigit() and (v / "saved_model.pb").is_file() for v in d.iterdir()
        )
    )


def models_config_text(export_dir: str | Path, base_path: str | None = None) -> str:
    """TF Serving `ModelServerConfig` text listing every model in `export_dir`.

    Args:
        export_dir: the model repository.
        base_path: the folder the *server* sees the repository as, e.g.
            `/models` inside the `tensorflow/serving` Docker image. Default:
            the one the existing `models.config` uses, else the absolute
            path of `export_dir` on this machine.

    Returns:
        The text-format protobuf that `--model_config_file` reads.

    Example:
    >>> print(models_config_text("/nonexistent"), end="")
    # Written by keras-gen: every model in this folder (re-written on export).
    model_config_list {
    }
    """
    if base_path is None:
        base_path = _configured_root(export_dir) or str(Path(export_dir).resolve())
    root = base_path.rstrip("/")
    lines = [
        "# Written by keras-gen: every model in this folder (re-written on export).",
        "model_config_list {",
    ]
    for name in list_models(export_dir):
        # No version policy: TF Serving's default serves the highest version.
        lines += [
            "  config {",
            f'    name: "{name}"',
            f'    base_path: "{root}/{name}"',
            '    model_platform: "tensorflow"',
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _configured_root(export_dir: str | Path) -> str | None:
    """The repository path an existing `models.config` gives the server.

    A repository set up for a container (`/models`, as the committed
    `saved_models/models.config` is) keeps that path when a later export
    rewrites the file without `--base-path`.
    """
    path = Path(export_dir) / MODELS_CONFIG
    if not path.is_file():
        return None
    found = re.search(r'base_path:\s*"(.*)/[^/"]+"', path.read_text())
    return found.group(1) if found else None


def _chmod_as_created(path: str | Path, mode: int) -> None:
    """The mode open()/mkdir() would have given: `mode` less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def write_models_config(export_dir: str | Path, base_path: str | None = None) -> Path:
    """(Re)write `<export_dir>/models.config` listing every model there.

    The file is replaced atomically, since a server started with
    `--model_config_file_poll_wait_seconds` may read it at any moment.

    Args:
        export_dir: the model repository.
        base_path: see `models_config_text`.

    Returns:
        The path of the config file.
    """
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    path = export_dir / MODELS_CONFIG
    fd, tmp = tempfile.mkstemp(prefix=".models.config.", dir=export_dir)
    with os.fdopen(fd, "w") as f:
        f.write(models_config_text(export_dir, base_path))
    # mkstemp creates the file 0600; a server running as another user must
    # read it, as it would a file written with open().
    _chmod_as_created(tmp, 0o666)
    os.replace(tmp, path)
    return path


_TEMPORARY = re.compile(r"\.(tmp|old)-\d+-(?P<pid>\d+)-")


def remove_stale_temporaries(model_dir: Path) -> list[Path]:
    """Remove the hidden folders of exports whose process is gone (killed).

    An export writes `.tmp-<version>-<pid>-*` (and `.old-...` while
    replacing a version); a live process's folders are left alone.
    """
    removed = []
    for path in model_dir.glob(".*-*"):
        match = _TEMPORARY.match(path.name)
        if match and path.is_dir() and not pid_alive(int(match["pid"])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _publish(write: Callable[[Path], None], model_dir: Path, path: Path, version: int):
    """Write into a hidden folder, then rename it to `path` (replacing it)."""
    remove_stale_temporaries(model_dir)
    # A hidden, non-integer folder is invisible to TF Serving's version
    # scan; the rename below publishes the finished version at once.
    pid = os.getpid()
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-{pid}-", dir=model_dir))
    try:
        write(tmp)
        # mkdtemp makes the folder private (0700); a server running as
        # another user must be able to read it, as with a plain mkdir.
        _chmod_as_created(tmp, 0o777)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{version}-{pid}-", dir=model_dir))
            os.replace(path, old / "v")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def weights_digest(model: Any) -> str:
    """sha256 of all of a model's weights, in order (same weights, same digest)."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def same_weights_version(model: Any, export_dir: str | Path, name: str) -> Path | None:
    """The model's highest exported version if it holds these very weights.

    A rerun of a finished run (or of one killed after its export) then
    reuses it instead of publishing an identical new version.
    """
    model_dir = Path(export_dir) / name
    version = next_version(model_dir) - 1
    record = model_dir / str(version) / "assets.extra" / WEIGHTS_FILE
    if version < 1 or not record.is_file():
        return None
    try:
        stored = json.loads(record.read_text()).get("sha256")
    except ValueError:
        return None
    return record.parents[1] if stored == weights_digest(model) else None


def publish_version(
    write: Callable[[Path], None],
    export_dir: str | Path,
    name: str,
    version: int | None = None,
    overwrite: bool = False,
    write_config: bool = True,
    base_path: str | None = None,
) -> Path:
    """Publish `<export_dir>/<name>/<version>` atomically for TF Serving.

    `write(folder)` fills a hidden temporary folder, which is then renamed
    into place, so a server polling the repository never sees half a
    version. Returns the version folder.
    """
    check_name(name)
    model_dir = Path(export_dir) / name
    version = next_version(model_dir) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}")
    path = model_dir / str(version)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True or another version")
    model_dir.mkdir(parents=True, exist_ok=True)
    # One export at a time per model: versions and temporaries are shared.
    with FolderLock(model_dir, "model"):
        _publish(write, model_dir, path, version)
    if write_config:
        write_models_config(export_dir, base_path)
    return path


def read_class_names(saved_model: str | Path) -> list[str]:
    """Class names of an exported conditional model, by label id.

    Raises:
        FileNotFoundError: the export has no class list (not conditional, or
            exported by an older keras-gen).
    """
    path = Path(saved_model) / "assets.extra" / CLASS_NAMES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no class names in this export")
    return list(json.loads(path.read_text())["class_names"])
