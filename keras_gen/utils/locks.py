"""An exclusive lock on a folder: one training run per work dir, one export per model.

The lock is a file created atomically (`O_CREAT | O_EXCL`) holding the
owner's host and process id. A lock whose process is gone (same host, no
such pid) is stale and taken over with a warning; a live one is an error
that names its owner.

Example:
>>> with FolderLock("runs/demo_gan"):  # doctest: +SKIP
...     train(...)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from keras_gen.utils.processes import pid_alive

LOCK_FILE = ".keras-gen.lock"
log = logging.getLogger(__name__)


class LockedError(RuntimeError):
    """Another live process holds the lock; the message names it."""


class FolderLock:
    """Context manager holding `<folder>/.keras-gen.lock` while inside."""

    def __init__(self, folder: str | Path, what: str = "work dir"):
        self.path = Path(folder) / LOCK_FILE
        self.what = what

    def _owner(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _try_create(self) -> bool:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
        }
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        return True

    def __enter__(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            if self._try_create():
                return self
            owner = self._owner()
            same_host = owner.get("host") == socket.gethostname()
            if same_host and owner.get("pid") and not pid_alive(int(owner["pid"])):
                log.warning("taking over the stale lock of process %s", owner["pid"])
                self.path.unlink(missing_ok=True)
                continue
            raise LockedError(
                f"{self.path.parent} is in use by process {owner.get('pid', '?')} on "
                f"{owner.get('host', '?')} (another keras-gen on this {self.what}); "
                f"wait for it, or delete {self.path} if that process is gone"
            )
        raise LockedError(f"could not take the lock {self.path}")

    def __exit__(self, *exc) -> None:
        if self._owner().get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
