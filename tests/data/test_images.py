"""Tests for listing image files (keras_gen.data.images)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keras_gen.data.images import (
    IMAGE_EXTENSIONS,
    PILLOW_IMAGE_EXTENSIONS,
    check_folder,
    list_image_files,
    list_images,
)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_one_extension_set_pillow_adds_webp() -> None:
    assert set(PILLOW_IMAGE_EXTENSIONS) == {*IMAGE_EXTENSIONS, ".webp"}
    assert ".webp" not in IMAGE_EXTENSIONS  # TensorFlow cannot decode it


def test_listing_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", "sub/c.gif", "sub/d.webp", "notes.txt",
                 ".hidden.jpg", ".cache/e.jpg"):  # fmt: skip
        _touch(tmp_path / name)
    names = [os.path.relpath(f, tmp_path) for f in list_image_files(tmp_path)]
    assert names == ["a.jpg", "b.PNG", os.path.join("sub", "c.gif")]
    pillow = list_image_files(tmp_path, PILLOW_IMAGE_EXTENSIONS)
    assert os.path.join(str(tmp_path), "sub", "d.webp") in pillow


def test_symlink_loops_are_listed_once(tmp_path: Path) -> None:
    _touch(tmp_path / "a.png")
    try:
        (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    except OSError:
        pytest.skip("no symbolic links here")
    assert list_image_files(tmp_path) == [str(tmp_path / "a.png")]


def test_list_images_takes_a_file_or_a_folder(tmp_path: Path) -> None:
    one = _touch(tmp_path / "x" / "one.bmp")
    _touch(tmp_path / "x" / "two.webp")
    assert list_images(one) == [one]
    assert [p.name for p in list_images(tmp_path / "x")] == ["one.bmp", "two.webp"]
    with pytest.raises(FileNotFoundError, match="no such image file or folder"):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \*\.jpg, .*\*\.webp file"):
        list_images(tmp_path / "empty")


def test_check_folder(tmp_path: Path) -> None:
    assert check_folder(tmp_path) == str(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        check_folder(tmp_path / "missing")
    with pytest.raises(NotADirectoryError, match="is a file"):
        check_folder(_touch(tmp_path / "a.png"))
