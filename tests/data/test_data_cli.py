"""Tests for `keras-gen data convert | import-lsun | preview`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_gen.cli import main
from keras_gen.data.tfrecord import read_index, verify_index
from tests.data.test_lsun import NUM_CORRUPT, NUM_GOOD, make_lsun_lmdb


def _folder(path: Path, num: int = 6) -> Path:
    rng = np.random.default_rng(1)
    path.mkdir(parents=True)
    for i in range(num):
        array = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(array).save(path / f"{i}.jpg", quality=90)
    (path / "bad.jpg").write_bytes(b"not an image")
    return path


def test_convert_folder_then_preview(tmp_path: Path, capsys) -> None:
    src = _folder(tmp_path / "src")
    out = tmp_path / "tfr"
    assert (
        main(
            [
                "data",
                "convert",
                str(src),
                "--out",
                str(out),
                "--shards",
                "2",
                "--size",
                "32",
                "--json",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "wrote 6 images" in printed and "skipped 1 unreadable" in printed
    summary = json.loads(printed.strip().splitlines()[-1])
    assert summary["count"] == 6 and summary["num_shards"] == 2
    assert verify_index(out)["image_size"] == 32
    grid = tmp_path / "grid.png"
    assert (
        main(
            [
                "data",
                "preview",
                str(out),
                "--out",
                str(grid),
                "--num",
                "4",
                "--size",
                "32",
            ]
        )
        == 0
    )
    with Image.open(grid) as im:
        assert im.size[0] > 64 and im.mode in ("RGB", "RGBA")


def test_convert_rooms_and_rerun_is_a_no_op(tmp_path: Path) -> None:
    out = tmp_path / "rooms"
    assert (
        main(
            [
                "data",
                "convert",
                "rooms:8",
                "--out",
                str(out),
                "--size",
                "32",
                "--shards",
                "2",
            ]
        )
        == 0
    )
    first = read_index(out)
    assert (
        main(
            [
                "data",
                "convert",
                "rooms:8",
                "--out",
                str(out),
                "--size",
                "32",
                "--shards",
                "2",
            ]
        )
        == 0
    )
    assert [s["sha256"] for s in read_index(out)["shards"]] == [
        s["sha256"] for s in first["shards"]
    ]
    # Other settings into the same folder: a clear error, exit code 2.
    assert main(["data", "convert", "rooms:8", "--out", str(out), "--size", "32"]) == 2


def test_import_lsun_cli(tmp_path: Path, capsys) -> None:
    lmdb_dir = tmp_path / "bedroom_train_lmdb"
    make_lsun_lmdb(lmdb_dir)
    out = tmp_path / "lsun"
    assert (
        main(
            ["data", "import-lsun", str(lmdb_dir), "--out", str(out), "--to", "folder"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"wrote {NUM_GOOD} images" in printed
    assert f"skipped {NUM_CORRUPT} unreadable" in printed
    assert len(list(out.glob("*.jpg"))) == NUM_GOOD


def test_preview_of_a_config(tmp_path: Path) -> None:
    grid = tmp_path / "cfg.png"
    code = main(
        [
            "data",
            "preview",
            "training/configs/smoke_gan.yaml",
            "--out",
            str(grid),
            "--num",
            "9",
            "--set",
            "data.num_images=16",
        ]
    )
    assert code == 0 and grid.is_file()


def test_missing_source_is_an_error(tmp_path: Path, capsys) -> None:
    assert (
        main(["data", "convert", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "source not found" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["convert", "import-lsun", "preview"])
def test_help_lists_options(command: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["data", command, "--help"])
    assert "--out" in capsys.readouterr().out
