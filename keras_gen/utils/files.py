"""Small file-system helpers shared by the writers and the readers.

Example:
>>> atomic_write_text(Path("/tmp/kg_example.txt"), "hello\\n")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to a temporary file beside `path`, then rename it over `path`.

    A reader (or a process killed half-way) never sees half a file. The
    temporary is `<name>.tmp-<pid>`, a name the folder cleaners recognise.
    """
    return _atomic_write(path, text, "w")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """`atomic_write_text` for bytes."""
    return _atomic_write(path, data, "wb")


def _atomic_write(path: str | Path, content: str | bytes, mode: str) -> Path:
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, mode, **({"newline": ""} if mode == "w" else {})) as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks (any file size)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(path: str | Path, suffixes: Iterable[str], what: str) -> list[Path]:
    """The one file given, or the files of a folder with these suffixes.

    Recursive, sorted, suffixes compared case-insensitively.

    Raises:
        FileNotFoundError: no such file or folder, or no matching file in it
            (the message names `what` is looked for).
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such {what} file or folder")
    suffixes = tuple(s.lower() for s in suffixes)
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes)
    if not files:
        patterns = ", ".join(f"*{s}" for s in suffixes)
        raise FileNotFoundError(f"{path}: no {patterns} file in this folder")
    return files


def run_model_file(path: str | Path) -> Path:
    """`<run folder>/model.keras` for a run folder; any other path as given.

    Every command that takes a model accepts a run folder this way (a
    SavedModel folder, which holds no model.keras, is left as it is).
    """
    path = Path(path)
    return path / "model.keras" if (path / "model.keras").is_file() else path
