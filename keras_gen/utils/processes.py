"""Whether a process still runs: tells a crashed run's leftovers from a live one's."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine.

    Example:
    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
