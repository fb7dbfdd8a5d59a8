"""Tests for the source dispatcher (keras_gen.data.sources)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_gen.data.pipeline import (
    PipelineOptions,
    finalize_dataset,
    from_value_range,
)
from keras_gen.data.rooms import render_rooms
from keras_gen.data.sources import (
    SOURCES,
    FolderSource,
    RoomsSource,
    class_names_of_source,
    count_of_source,
    dataset_from_source,
    dataset_from_spec,
    parse_source,
    source_kind,
)
from keras_gen.data.specs import SOURCE_KINDS, SourceSpec

SIZE = 32


def _all(ds: tf.data.Dataset) -> list[np.ndarray]:
    """Every batch, concatenated: one array per part of the elements."""
    parts = [b if isinstance(b, tuple) else (b,) for b in ds]
    return [np.concatenate(t) for t in zip(*parts)]


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two class folders of three PNG rooms each."""
    root = tmp_path_factory.mktemp("classes")
    images = render_rooms(6, size=SIZE, seed=1)[0]
    for i, image in enumerate(images):
        (root / f"c{i % 2}").mkdir(exist_ok=True)
        Image.fromarray(image).save(root / f"c{i % 2}" / f"{i}.png")
    return root


def test_every_kind_has_one_entry() -> None:
    assert set(SOURCES) == set(SOURCE_KINDS)
    assert source_kind("lmdb").dataset is None
    with pytest.raises(ValueError, match="unknown source kind 'web'"):
        source_kind("web")


def test_rooms_dataset_matches_the_renderer() -> None:
    source = SourceSpec("rooms", num=10, seed=4, labels="has_bed")
    options = PipelineOptions(batch_size=5, image_size=SIZE, training=False)
    ds, count = dataset_from_source(source, options)
    assert count == 10
    images, labels = _all(ds)
    expected, table = render_rooms(10, size=SIZE, seed=4)
    rendered = finalize_dataset(
        tf.data.Dataset.from_tensor_slices(expected), options.replace(cache=False)
    )
    np.testing.assert_array_equal(images, _all(rendered)[0])
    np.testing.assert_array_equal(labels, table["has_bed"])
    assert count_of_source(source) == 10
    assert class_names_of_source(source) == ["no_bed", "bed"]


def test_folder_counts_and_classes(classes: Path) -> None:
    source = SourceSpec("folder", path=str(classes), labels="inferred", num=4)
    assert count_of_source(source) == 4  # capped by num
    assert count_of_source(SourceSpec("folder", path=str(classes))) == 6
    assert class_names_of_source(source) == ["c0", "c1"]
    options = PipelineOptions(batch_size=2, image_size=SIZE, training=False)
    ds, count = dataset_from_source(source, options)
    images, labels = _all(ds)
    assert count == 4 and images.shape == (6, SIZE, SIZE, 3)
    assert sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]


def test_kinds_without_a_pipeline_or_labels() -> None:
    options = PipelineOptions(batch_size=2, image_size=SIZE)
    with pytest.raises(ValueError, match="convert .* first"):
        dataset_from_source(SourceSpec("lmdb", path="db"), options)
    with pytest.raises(ValueError, match="no class labels"):
        class_names_of_source(SourceSpec("tfds", name="cifar10"))
    assert count_of_source(SourceSpec("tfrecord", path="shards")) is None


def test_parse_source_picks_the_conversion_source(
    classes: Path, tmp_path: Path
) -> None:
    rooms = parse_source("rooms:5:2", size=SIZE)
    assert isinstance(rooms, RoomsSource) and rooms.description == "rooms:5:2:32px"
    folder = parse_source(str(classes))
    assert isinstance(folder, FolderSource) and len(folder) == 6
    with pytest.raises(ValueError, match="bad rooms spec"):
        parse_source("rooms:5:2:1")
    with pytest.raises(FileNotFoundError, match="source not found"):
        parse_source(str(tmp_path / "missing"))


def test_a_folder_named_rooms_is_a_folder(classes: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(classes, tmp_path / "rooms_photos")
    assert len(parse_source(str(copy))) == 6


def test_dataset_from_spec_reads_rooms_and_folders(classes: Path) -> None:
    rooms = dataset_from_spec(
        "rooms:6:1", image_size=SIZE, batch_size=3, training=False
    )
    expected = render_rooms(6, size=SIZE, seed=1)[0]
    got = from_value_range(_all(rooms)[0], (-1.0, 1.0))
    np.testing.assert_array_equal(got, expected)
    folder = dataset_from_spec(str(classes), image_size=SIZE, batch_size=3)
    assert _all(folder)[0].shape == (6, SIZE, SIZE, 3)
