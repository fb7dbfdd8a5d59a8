"""Tests for TFDS datasets (keras_gen.data.tfds_source), with mocked data only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_gen.config import ConfigError, config_from_dict
from keras_gen.data.tfds_source import TfdsNotPreparedError, TfdsSource, tfds_dataset
from keras_gen.data.tfrecord import count_records, write_shards
from keras_gen.trainer import build_dataset

NAME = "lsun/bedroom"  # a registered builder: no download happens under mock_data


def test_mock_lsun_gives_batches_and_count(tmp_path: Path) -> None:
    with tfds.testing.mock_data(num_examples=10):
        ds, num = tfds_dataset(
            NAME, image_size=16, batch_size=4, data_dir=str(tmp_path), seed=0
        )
        batches = [b.numpy() for b in ds]
    assert num == 10 and len(batches) == 2  # remainder dropped
    assert batches[0].shape == (4, 16, 16, 3) and batches[0].dtype == np.float32
    assert batches[0].min() >= -1.0 and batches[0].max() <= 1.0
    assert batches[0].std() > 0  # random mock images, not blank


def test_build_dataset_with_tfds_config(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {
            "model": {"type": "vae", "image_size": 32, "width": 8, "latent_dim": 8},
            "data": {
                "source": "tfds",
                "name": NAME,
                "split": "train",
                "data_dir": str(tmp_path),
                "image_key": "image",
                "num_images": None,
            },
        }
    )
    with tfds.testing.mock_data(num_examples=12):
        ds, num = build_dataset(cfg, (0.0, 1.0), 4, repeat=True)
        batch = next(iter(ds)).numpy()
    assert num == 12 and batch.shape == (4, 32, 32, 3)
    assert batch.min() >= 0.0 and batch.max() <= 1.0


def test_wrong_image_key_names_the_features(tmp_path: Path) -> None:
    with (
        tfds.testing.mock_data(num_examples=2),
        pytest.raises(ValueError, match="no feature 'photo'.*'image'"),
    ):
        tfds_dataset(
            NAME, image_size=16, batch_size=2, data_dir=str(tmp_path), image_key="photo"
        )


def test_not_prepared_error_says_how_to_prepare(tmp_path: Path) -> None:
    with pytest.raises(TfdsNotPreparedError) as info:
        tfds_dataset(NAME, image_size=16, batch_size=2, data_dir=str(tmp_path))
    message = str(info.value)
    assert f"tfds build {NAME}" in message and "download_and_prepare" in message
    assert str(tmp_path / "downloads" / "manual") in message


def test_tfds_source_converts_to_shards(tmp_path: Path) -> None:
    with tfds.testing.mock_data(num_examples=6):
        source = TfdsSource(NAME, data_dir=str(tmp_path))
        assert len(source) == 6
        index = write_shards(source, tmp_path / "tfr", num_shards=2, size=16)
    assert index["count"] == 6 and count_records(tmp_path / "tfr") == 6


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="data.name .*required"):
        config_from_dict({"data": {"source": "tfds"}})
    with pytest.raises(ConfigError, match="data.path is required"):
        config_from_dict({"data": {"source": "tfrecord"}})
    with pytest.raises(ConfigError, match="data.threads must be > 0"):
        config_from_dict({"data": {"threads": 0}})
