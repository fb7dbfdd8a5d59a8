"""Tests for TFRecord shards (keras_gen.data.tfrecord): writing, resuming, reading."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow.python.data.experimental.ops.distribute import _AutoShardDataset

from keras_gen.config import config_from_dict
from keras_gen.data.rooms import render_rooms
from keras_gen.data.sources import FolderSource, RoomsSource, parse_source
from keras_gen.data.tfrecord import (
    IndexMismatchError,
    ShardChecksumError,
    count_records,
    parse_example,
    prepare_image,
    read_index,
    shard_files,
    tfrecord_dataset,
    verify_index,
    write_shards,
)
from keras_gen.trainer import build_dataset

SIZE = 32
NUM = 30


@pytest.fixture(scope="module")
def rooms() -> np.ndarray:
    return render_rooms(NUM, size=SIZE, seed=0)[0]


@pytest.fixture(scope="module")
def rooms_tfr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rooms_tfr")
    write_shards(RoomsSource(NUM, SIZE), out, num_shards=3)
    return out


def _all_images(ds: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([b.numpy() for b in ds])


def _read_in_order(path: Path, **kwargs: Any) -> np.ndarray:
    kwargs.setdefault("cache", False)
    ds = tfrecord_dataset(
        path,
        image_size=SIZE,
        batch_size=NUM,
        value_range=(0.0, 255.0),  # the identity: decoded uint8 values
        training=False,
        drop_remainder=False,
        **kwargs,
    )
    return _all_images(ds)


def test_png_round_trip_is_pixel_exact_and_index_is_right(
    rooms_tfr: Path, rooms: np.ndarray
) -> None:
    index = verify_index(rooms_tfr)
    assert index["count"] == NUM and index["skipped"] == 0 and index["complete"]
    assert index["num_shards"] == 3 == len(shard_files(rooms_tfr))
    assert [s["count"] for s in index["shards"]] == [10, 10, 10]
    assert all(len(s["sha256"]) == 64 for s in index["shards"])
    assert count_records(rooms_tfr) == NUM
    np.testing.assert_array_equal(_read_in_order(rooms_tfr), rooms)
    # Stored fields: PNG, original size, no label, the source index as key.
    record = next(iter(tf.data.TFRecordDataset(shard_files(rooms_tfr)[1])))
    ex = parse_example(record)
    assert ex["image/format"].numpy() == b"png"
    assert (ex["image/height"].numpy(), ex["image/width"].numpy()) == (SIZE, SIZE)
    assert ex["image/label"].numpy() == -1 and ex["image/key"].numpy() == b"10"


def test_labels_are_yielded(rooms_tfr: Path) -> None:
    images, labels = next(
        iter(tfrecord_dataset(rooms_tfr, image_size=SIZE, batch_size=4, labels=True))
    )
    assert images.shape == (4, SIZE, SIZE, 3) and labels.dtype == tf.int32
    assert labels.numpy().tolist() == [-1] * 4


def test_tampered_shard_fails_verification(tmp_path: Path) -> None:
    write_shards(RoomsSource(8, SIZE), tmp_path, num_shards=2)
    shard = Path(shard_files(tmp_path)[1])
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardChecksumError, match="does not match its sha256"):
        verify_index(tmp_path)
    shard.unlink()
    with pytest.raises(ShardChecksumError, match="missing"):
        verify_index(tmp_path)


class _Interrupting:
    """Wraps a source; counts entries read and fails when reading `fail_at`."""

    def __init__(self, source: Any, fail_at: int | None = None) -> None:
        self.source, self.fail_at, self.read_entries = source, fail_at, []
        self.description = source.description

    def __len__(self) -> int:
        return len(self.source)

    def read(self, start: int, stop: int) -> Iterator[tuple[str, Any, int]]:
        for i, entry in enumerate(self.source.read(start, stop), start):
            if i == self.fail_at:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C
            self.read_entries.append(i)
            yield entry


def test_interrupted_conversion_resumes_skipping_complete_shards(
    tmp_path: Path,
) -> None:
    source = RoomsSource(12, SIZE)
    with pytest.raises(KeyboardInterrupt):
        # Shards of 3: shards 0 and 1 complete, shard 2 interrupted half-way.
        write_shards(_Interrupting(source, fail_at=7), tmp_path / "a", num_shards=4)
    index = read_index(tmp_path / "a")
    assert not index["complete"] and [s["index"] for s in index["shards"]] == [0, 1]
    with pytest.raises(ValueError, match="incomplete"):
        shard_files(tmp_path / "a")
    resumed = _Interrupting(source)
    index = write_shards(resumed, tmp_path / "a", num_shards=4)
    assert resumed.read_entries == list(range(6, 12))  # only the unfinished shards
    assert index["complete"] and index["count"] == 12
    assert not list((tmp_path / "a").glob("*.tmp-*"))
    # Same bytes as an uninterrupted conversion.
    clean = write_shards(source, tmp_path / "b", num_shards=4)
    assert [s["sha256"] for s in index["shards"]] == [
        s["sha256"] for s in clean["shards"]
    ]
    verify_index(tmp_path / "a")
    # Another setting in the same folder is refused, unless overwriting.
    with pytest.raises(IndexMismatchError, match="num_shards"):
        write_shards(source, tmp_path / "a", num_shards=3)
    assert write_shards(source, tmp_path / "a", num_shards=3, overwrite=True)[
        "complete"
    ]


def _encode(array: np.ndarray, fmt: str, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_folder_conversion_keeps_jpeg_bytes_converts_webp_and_skips_corrupt(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    jpeg = _encode(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), "JPEG")
    (src / "a.jpg").write_bytes(jpeg)
    (src / "b.png").write_bytes(
        _encode(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), "PNG")
    )
    (src / "sub" / "c.gif").write_bytes(_encode(np.zeros((16, 16, 3), np.uint8), "GIF"))
    (src / "broken.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # truncated
    (src / "empty.png").write_bytes(b"")
    index = write_shards(FolderSource(src), tmp_path / "out", num_shards=2)
    assert index["count"] == 3 and index["skipped"] == 2
    assert any("broken.jpg" in e for e in index["skipped_examples"])
    records = [
        parse_example(r) for r in tf.data.TFRecordDataset(shard_files(tmp_path / "out"))
    ]
    by_key = {r["image/key"].numpy().decode(): r for r in records}
    assert sorted(by_key) == ["a.jpg", "b.png", "sub/c.gif"]
    assert by_key["a.jpg"]["image/encoded"].numpy() == jpeg  # byte for byte
    assert by_key["sub/c.gif"]["image/format"].numpy() == b"jpeg"
    assert by_key["b.png"]["image/format"].numpy() == b"png"
    assert (
        by_key["a.jpg"]["image/height"].numpy(),
        by_key["a.jpg"]["image/width"].numpy(),
    ) == (40, 60)
    # --size: stored at SxS, original size still recorded.
    small = prepare_image(jpeg, size=16)
    assert Image.open(io.BytesIO(small.data)).size == (16, 16)
    assert (small.height, small.width, small.format) == (40, 60, "jpeg")


def test_same_seed_same_batches_and_augmentations(rooms_tfr: Path) -> None:
    def batches(seed: int) -> np.ndarray:
        ds = tfrecord_dataset(
            rooms_tfr, image_size=SIZE, batch_size=8, seed=seed, repeat=True
        )
        assert ds.options().deterministic is True
        return np.stack([b.numpy() for b in ds.take(6)])  # crosses an epoch

    first = batches(5)
    np.testing.assert_array_equal(first, batches(5))
    assert not np.array_equal(first, batches(6))


def test_file_auto_shard_gives_workers_different_shards(
    rooms_tfr: Path, rooms: np.ndarray
) -> None:
    def worker(index: int | None) -> list[int]:
        ds = tfrecord_dataset(
            rooms_tfr,
            image_size=SIZE,
            batch_size=1,
            value_range=(0.0, 255.0),
            training=False,
            cache=False,
        )
        policy = ds.options().experimental_distribute.auto_shard_policy
        assert policy == tf.data.experimental.AutoShardPolicy.FILE
        if index is not None:
            # The rewrite tf.distribute applies on each of 2 workers.
            ds = _AutoShardDataset(ds, num_workers=2, index=index)
        keys = {rooms[i].tobytes(): i for i in range(NUM)}
        return sorted(keys[b.numpy()[0].astype(np.uint8).tobytes()] for b in ds)

    w0, w1 = worker(0), worker(1)
    # 3 shards of 10 over 2 workers: shards 0 and 2 on worker 0, 1 on worker 1.
    assert w0 == list(range(0, 10)) + list(range(20, 30))
    assert w1 == list(range(10, 20))


def test_file_cache_is_written_and_reused(rooms_tfr: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache") + "/"
    first = _read_in_order(rooms_tfr, cache=cache)
    (tmp_path / "cache").mkdir(exist_ok=True)
    ds = tfrecord_dataset(
        rooms_tfr,
        image_size=SIZE,
        batch_size=NUM,
        value_range=(0.0, 255.0),
        training=False,
        cache=cache,
    )
    np.testing.assert_array_equal(_all_images(ds), first)
    assert list((tmp_path / "cache").glob("tfrecord-32px-*.index"))


def test_build_dataset_with_tfrecord_config(rooms_tfr: Path) -> None:
    cfg = config_from_dict(
        {
            "model": {"type": "gan", "image_size": SIZE, "width": 8, "latent_dim": 8},
            "data": {"source": "tfrecord", "path": str(rooms_tfr), "num_images": None},
        }
    )
    ds, num = build_dataset(cfg, (-1.0, 1.0), 8, repeat=True)
    assert num == NUM
    batch = next(iter(ds)).numpy()
    assert batch.shape == (8, SIZE, SIZE, 3) and batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0


def test_parse_source_specs(tmp_path: Path) -> None:
    assert parse_source("rooms:5:2", size=SIZE).description == "rooms:5:2:32px"
    with pytest.raises(ValueError, match="rooms:N"):
        parse_source("rooms:x")
    with pytest.raises(FileNotFoundError):
        parse_source(str(tmp_path / "missing"))
    index_path = tmp_path / "index.json"
    index_path.write_text(json.dumps({"count": 1}))
    assert read_index(tmp_path)["count"] == 1


def test_convert_removes_only_its_own_dead_temporaries(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = tmp_path / "out"
    out.mkdir()
    ours = out / f"images-00001-of-00002.tfrecord.tmp-{dead}"
    running = out / f"images-00000-of-00002.tfrecord.tmp-{os.getppid()}"
    user_file = out / "notes.txt.tmp-backup"
    user_dir = out / "photos.tmp-1"
    for path in (ours, running, user_file):
        path.write_bytes(b"x")
    user_dir.mkdir()
    write_shards(RoomsSource(4, SIZE), out, num_shards=2)
    assert not ours.exists()
    assert running.exists() and user_file.exists() and user_dir.is_dir()
