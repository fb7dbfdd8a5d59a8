"""Tests for the LSUN LMDB import (keras_gen.data.lsun), on a small LMDB built here."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import lmdb
import numpy as np
import pytest
from PIL import Image

from keras_gen.data.lsun import LmdbSource, import_lsun
from keras_gen.data.sources import parse_source
from keras_gen.data.tfrecord import count_records, tfrecord_dataset, verify_index

NUM_GOOD = 10
NUM_CORRUPT = 2


def _encode(array: np.ndarray, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def make_lsun_lmdb(path: Path, num_good: int = NUM_GOOD) -> dict[str, np.ndarray]:
    """An LMDB laid out like LSUN's: 40-hex-digit keys, encoded image values.

    Most values are lossless WebP (so pixels can be compared exactly), two are
    JPEG (older LSUN releases), and NUM_CORRUPT are corrupt (random bytes, a
    truncated WebP). Returns the pixels of each good key.
    """
    rng = np.random.default_rng(0)
    pixels: dict[str, np.ndarray] = {}
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i in range(num_good + NUM_CORRUPT):
            key = hashlib.sha1(f"image{i}".encode()).hexdigest()
            # LSUN images: shorter side 256; smaller here to stay fast.
            array = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            if i == 3:
                value = b"\x00garbage" + rng.bytes(200)
            elif i == 7:
                value = _encode(array, "WEBP", quality=80)[:40]
            elif i in (1, 5):
                value = _encode(array, "JPEG", quality=90)
                pixels[key] = np.asarray(Image.open(io.BytesIO(value)).convert("RGB"))
            else:
                value = _encode(array, "WEBP", lossless=True)
                pixels[key] = array
            txn.put(key.encode("ascii"), value)
    env.close()
    return pixels


@pytest.fixture(scope="module")
def lsun_lmdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("lsun") / "bedroom_train_lmdb"
    return path, make_lsun_lmdb(path)


def test_lmdb_source_reads_entries_in_key_order(lsun_lmdb: tuple[Path, dict]) -> None:
    path, pixels = lsun_lmdb
    source = parse_source(str(path))
    assert isinstance(source, LmdbSource) and len(source) == NUM_GOOD + NUM_CORRUPT
    keys = [k for k, _, _ in source.read(0, len(source))]
    assert keys == sorted(keys) and all(len(k) == 40 for k in keys)
    assert [k for k, _, _ in source.read(4, 7)] == keys[4:7]
    source.close()
    with LmdbSource(path, limit=5) as limited:
        assert len(limited) == 5
    with pytest.raises(FileNotFoundError, match="data.mdb"):
        LmdbSource(path.parent)


def test_import_to_tfrecords_counts_and_skips_corrupt(
    lsun_lmdb: tuple[Path, dict], tmp_path: Path
) -> None:
    path, pixels = lsun_lmdb
    stats = import_lsun(path, tmp_path / "tfr", num_shards=3, image_format="png")
    assert stats["count"] == NUM_GOOD and stats["skipped"] == NUM_CORRUPT
    assert stats["entries"] == NUM_GOOD + NUM_CORRUPT
    assert count_records(tmp_path / "tfr") == NUM_GOOD
    verify_index(tmp_path / "tfr")
    # PNG is lossless: the pixels read back are the WebP/JPEG-decoded ones.
    ds = tfrecord_dataset(
        tmp_path / "tfr",
        image_size=24,
        batch_size=NUM_GOOD,
        value_range=(0.0, 255.0),
        training=False,
        cache=False,
    )
    images = next(iter(ds)).numpy().astype(np.uint8)
    expected = [pixels[k][:, 4:28] for k in sorted(pixels)]  # centre crop 24x24
    np.testing.assert_array_equal(images, np.stack(expected))


def test_import_to_folder_writes_jpegs_and_resumes(
    lsun_lmdb: tuple[Path, dict], tmp_path: Path
) -> None:
    path, pixels = lsun_lmdb
    out = tmp_path / "folder"
    stats = import_lsun(path, out, output="folder", size=16, quality=90)
    assert (stats["count"], stats["written"], stats["skipped"]) == (
        NUM_GOOD,
        NUM_GOOD,
        2,
    )
    files = sorted(out.iterdir())
    assert [f.stem for f in files] == sorted(pixels)
    assert all(f.suffix == ".jpg" for f in files)
    with Image.open(files[0]) as im:
        assert (im.format, im.size) == ("JPEG", (16, 16))
    files[0].unlink()  # as if the first run had stopped before it
    again = import_lsun(path, out, output="folder", size=16, quality=90)
    assert (again["written"], again["kept"], again["skipped"]) == (1, NUM_GOOD - 1, 2)
    with pytest.raises(ValueError, match="output"):
        import_lsun(path, out, output="zip")
