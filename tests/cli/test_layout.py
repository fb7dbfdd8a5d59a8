"""keras_gen/cli/ stays parsing and dispatch: small modules, small functions."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_layout import oversized

CLI = Path(__file__).parents[2] / "keras_gen" / "cli"
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_modules_and_functions_are_small(path):
    long = oversized(path, MAX_FILE_LINES, MAX_FUNCTION_LINES)
    assert not long, f"{path.name}: move the work into the library: {long}"


def test_every_command_module_adds_its_parser():
    from keras_gen.cli import build_parser

    modules = {p.stem for p in CLI.glob("*.py")} - {"__init__", "__main__", "app"}
    for name in modules:
        module = __import__(f"keras_gen.cli.{name}", fromlist=["add_parser"])
        assert callable(module.add_parser), name
    parser = build_parser()
    commands = next(
        a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    assert list(commands) == [
        "train",
        "sample",
        "interpolate",
        "export",
        "denoise",
        "anomaly",
        "evaluate",
        "data",
        "presets",
        "series",
    ]


def test_python_m_and_no_tensorflow_for_the_parser():
    script = (
        "import sys\n"
        "from keras_gen.cli import build_parser, main, sample_images\n"
        "build_parser()\n"
        "print('TF', 'tensorflow' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert "TF False" in proc.stdout, proc.stderr[-2000:]
    proc = subprocess.run(
        [sys.executable, "-m", "keras_gen.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("keras-gen "), proc.stderr
