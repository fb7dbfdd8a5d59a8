"""keras-gen's console: log lines to the right stream, TensorFlow's chatter dropped."""

import logging
import os

from keras_gen.utils.console import log, native_chatter_filtered, setup_logging

CHATTER_LINES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are "
    b"written to STDERR\n",
    b"I0000 00:00:1796252195.983608   23186 port.cc:153] oneDNN custom "
    b"operations are on.\n",
    b"E0000 00:00:1796252195.983608   23186 jpeg_mem.cc:337] Premature end\n",
    b"WARNING:absl:Compiled the loaded model, but the compiled metrics\n",
]


def test_native_chatter_is_dropped_and_the_rest_passes(capfd):
    with native_chatter_filtered():
        for line in CHATTER_LINES:
            os.write(2, line)
        os.write(2, b"keras-gen: warning: a real one\n")
        os.write(2, b"progress 10%\rprogress 20%\r")  # no newline yet
        os.write(2, b"tail without newline")
    err = capfd.readouterr().err
    assert err == (
        "keras-gen: warning: a real one\nprogress 10%\rprogress 20%\r"
        "tail without newline"
    )


def test_disabled_filter_lets_everything_through(capfd):
    with native_chatter_filtered(enabled=False):
        os.write(2, CHATTER_LINES[1])
    assert "oneDNN" in capfd.readouterr().err


def test_stderr_is_restored_after_an_exception(capfd):
    try:
        with native_chatter_filtered():
            raise KeyError("x")
    except KeyError:
        pass
    os.write(2, CHATTER_LINES[1])
    assert "oneDNN" in capfd.readouterr().err


def test_levels_and_streams(capsys):
    saved = (log.level, list(log.handlers), log.propagate)
    try:
        setup_logging(0)
        setup_logging(0)  # idempotent: one handler, one line per message
        log.info("wrote %s", "x.png")
        log.debug("hidden")
        log.warning("careful")
        out, err = capsys.readouterr()
        assert out == "[keras-gen] wrote x.png\n"
        assert err == "keras-gen: warning: careful\n"
        setup_logging(-1)
        log.info("quiet")
        assert capsys.readouterr().out == ""
        setup_logging(1)
        logging.getLogger("keras_gen.utils.locks").debug("child logger")
        assert capsys.readouterr().out == "[keras-gen] child logger\n"
    finally:
        log.setLevel(saved[0])
        log.handlers[:] = saved[1]
        log.propagate = saved[2]
