"""The top-level `keras-gen` parser, `main`, and errors as exit codes."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings

from keras_gen.utils.console import native_chatter_filtered, setup_logging

#: Storage failures reported as one line (exit 2) rather than a traceback.
STORAGE_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM)


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's --help shows the defaults and takes -q / -v."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand without the flag keeps the top level's value,
        # so `keras-gen -v train ...` and `keras-gen train ... -v` both work.
        group = self.add_mutually_exclusive_group()
        group.add_argument(
            "-q",
            "--quiet",
            dest="verbosity",
            action="store_const",
            const=-1,
            default=argparse.SUPPRESS,
            help="only warnings and errors",
        )
        group.add_argument(
            "-v",
            "--verbose",
            dest="verbosity",
            action="store_const",
            const=1,
            default=argparse.SUPPRESS,
            help="debug messages, and TensorFlow's own log lines",
        )


def _one_line_warnings() -> None:
    """keras-gen's own warnings as one readable line each on stderr.

    Python's default format adds the module path and echoes the source line
    that raised the warning; other libraries' warnings keep that format.
    """
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not category.__module__.startswith("keras_gen"):
            return default(message, category, filename, lineno, file, line)
        print(f"keras-gen: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def build_parser() -> argparse.ArgumentParser:
    from keras_gen import __version__
    from keras_gen.cli import (
        anomaly,
        data,
        denoise,
        evaluate,
        export,
        generate,
        presets,
        train,
    )
    from keras_gen.series.cli import add_series_parser

    parser = _Parser(
        prog="keras-gen", description="Train and use VAEs and GANs on room images."
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-gen {__version__}"
    )
    parser.set_defaults(verbosity=0)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train.add_parser(sub)
    generate.add_parser(sub)
    export.add_parser(sub)
    denoise.add_parser(sub)
    anomaly.add_parser(sub)
    evaluate.add_parser(sub)
    data.add_parser(sub)
    presets.add_parser(sub)
    add_series_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _one_line_warnings()
    args = build_parser().parse_args(argv)
    setup_logging(args.verbosity)
    verbose = args.verbosity > 0
    # Before TensorFlow is imported, which reads it once. -v asks for TF's
    # lines even where the environment already silences them.
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_chatter_filtered(enabled=not verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """`args.func(args)`, with its errors as one line and an exit code."""
    from keras_gen.cli.presets import check_model_argument
    from keras_gen.config import ConfigError
    from keras_gen.errors import NonFiniteLossError
    from keras_gen.utils.locks import LockedError

    try:
        check_model_argument(args, optional=args.command == "evaluate")
        return args.func(args)
    except NonFiniteLossError as err:
        print(f"keras-gen {args.command}: training diverged: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        # A training run resumes from its last backup when run again.
        print(f"keras-gen {args.command}: interrupted", file=sys.stderr)
        return 130
    except (
        ConfigError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        ValueError,
        LockedError,
    ) as err:
        print(f"keras-gen {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in STORAGE_ERRORS:
            raise
        return _storage_error(args.command, err)


def _storage_error(command: str, err: OSError) -> int:
    """A full disk or a read-only folder: say which, without a traceback.

    The last backup of a training run is left as it was.
    """
    where = f" ({err.filename})" if err.filename else ""
    print(
        f"keras-gen {command}: error: {os.strerror(err.errno)}{where}; "
        "free space or fix the permissions and run the command again",
        file=sys.stderr,
    )
    return 2
