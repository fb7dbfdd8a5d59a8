"""Limit the threads of the BLAS libraries numpy and scipy bundle (threadpoolctl).

Why: OpenBLAS worker threads spin while they wait. On a CPU that other
processes also use (a training run next to the evaluation, several developers
on one machine), two spinning threads on two busy cores made a 992x992 ``eigh``
take 6.4 s instead of 0.2 s with one thread, and the evaluation tests 141 s
instead of 40 s (2-core development machine, load average ~5). One thread
costs little when the machine is idle, since the heavy lifting (feature
networks) runs in TensorFlow's own thread pool, which this does not touch.

Example:
    >>> with limit_blas_threads(1):
    ...     pass  # numpy linear algebra here runs on one thread
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["limit_blas_threads"]


@contextlib.contextmanager
def limit_blas_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with at most ``num_threads`` BLAS threads, then restore.

    Args:
        num_threads: thread count, or None to change nothing.
    """
    if num_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(num_threads), user_api="blas"):
        yield
