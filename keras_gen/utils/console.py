"""What the `keras-gen` command prints: its log lines, and TensorFlow's kept quiet.

keras-gen's messages go through the `keras_gen` logger: INFO lines
(`[keras-gen] ...`) to stdout, warnings and errors to stderr. The command line
maps `-q` to WARNING and `-v` to DEBUG. A library user configures `logging`
as usual (without a handler, Python shows warnings only).

TensorFlow's native libraries write start-up and runtime lines (oneDNN, CPU
features, `jpeg_mem.cc`, grappler's `remapper failed`) straight to file
descriptor 2, partly before absl's logging is initialised, where
`TF_CPP_MIN_LOG_LEVEL` does not reach them. `native_chatter_filtered` drops
those lines at the descriptor and passes everything else through.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator

log = logging.getLogger("keras_gen")

#: Lines of TensorFlow's native logging and Python loggers (not ours).
CHATTER = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|[IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    rb"|(WARNING|INFO):(absl|tensorflow):)"
)


class _ConsoleHandler(logging.Handler):
    """INFO to stdout as `[keras-gen] msg`, warnings to stderr.

    The streams are looked up at each message, so a test's captured
    `sys.stdout` (or a redirected one) receives them.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            if record.levelno >= logging.WARNING:
                level = record.levelname.lower()
                print(f"keras-gen: {level}: {message}", file=sys.stderr, flush=True)
            else:
                print(f"[keras-gen] {message}", file=sys.stdout, flush=True)
        except Exception:  # noqa: BLE001 - logging must not raise
            self.handleError(record)


def setup_logging(verbosity: int = 0) -> None:
    """Console output of the `keras_gen` logger: -1 quiet, 0 normal, 1 verbose."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    if not any(isinstance(h, _ConsoleHandler) for h in log.handlers):
        log.addHandler(_ConsoleHandler())
    log.setLevel(level)
    log.propagate = False


@contextlib.contextmanager
def native_chatter_filtered(enabled: bool = True) -> Iterator[None]:
    """Drop TensorFlow's native log lines from stderr while the block runs.

    File descriptor 2 is pointed at a pipe whose reader forwards every other
    byte to the real stderr; text without a newline yet (a progress bar's
    carriage-return updates) is forwarded at once.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    # The pump owns its own copy of the real stderr: a child process still
    # holding the pipe may keep it running after the block.
    pump = threading.Thread(target=_pump, args=(read_end, os.dup(saved)), daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump ends
        pump.join(timeout=2.0)
        os.close(saved)


def _pump(read_end: int, target: int) -> None:
    pending = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(read_end, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not CHATTER.match(line))
            if b"\r" in pending:
                kept, pending = kept + pending, b""
            if kept:
                os.write(target, kept)
        if pending and not CHATTER.match(pending):
            os.write(target, pending)
    os.close(read_end)
    os.close(target)


__all__ = ["CHATTER", "log", "native_chatter_filtered", "setup_logging"]
