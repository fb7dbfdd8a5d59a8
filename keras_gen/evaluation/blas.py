"""Limit the threads of the OpenBLAS libraries numpy and scipy bundle.

Why: OpenBLAS worker threads spin while they wait. On a CPU that other
processes also use (a training run next to the evaluation, several developers
on one machine), two spinning threads on two busy cores made a 992x992 ``eigh``
take 6.4 s instead of 0.2 s with one thread, and the evaluation tests 141 s
instead of 40 s (2-core development machine, load average ~5). One thread
costs little when the machine is idle, since the heavy lifting (feature
networks) runs in TensorFlow's own thread pool, which this does not touch.

``threadpoolctl`` does the same in general; this is the few lines of it that
keras-gen needs, without a new dependency. On platforms other than Linux, or
without OpenBLAS, it does nothing.

Example:
    >>> with limit_blas_threads(1):
    ...     pass  # numpy linear algebra here runs on one thread
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator

__all__ = ["limit_blas_threads"]

# (setter, getter) symbol names: plain OpenBLAS, and the prefixed builds in
# the numpy (64-bit integer interface) and scipy wheels.
_SYMBOLS = (
    ("openblas_set_num_threads", "openblas_get_num_threads"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
)


def _loaded_openblas() -> list[tuple[ctypes.CDLL, str, str]]:
    if not sys.platform.startswith("linux"):
        return []
    paths = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and "openblas" in parts[-1].rsplit("/", 1)[-1]:
                    paths.add(parts[-1])
    except OSError:
        return []
    found = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in _SYMBOLS:
            if hasattr(lib, setter) and hasattr(lib, getter):
                found.append((lib, setter, getter))
                break
    return found


@contextlib.contextmanager
def limit_blas_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with at most ``num_threads`` OpenBLAS threads, then restore.

    Args:
        num_threads: thread count, or None to change nothing.
    """
    if num_threads is None:
        yield
        return
    libraries = _loaded_openblas()
    previous = []
    for lib, setter, getter in libraries:
        previous.append(int(getattr(lib, getter)()))
        getattr(lib, setter)(int(num_threads))
    try:
        yield
    finally:
        for (lib, setter, _), count in zip(libraries, previous):
            getattr(lib, setter)(count)
