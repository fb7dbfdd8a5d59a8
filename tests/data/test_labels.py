"""Class labels of a data section: `data.labels` validated, folder classes
are its sub-folders (keras_gen.data.factory.class_names_of)."""

from pathlib import Path

import pytest

from keras_gen.config import Config, ConfigError, load_config
from keras_gen.data.factory import class_names_of

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"


def test_labels_config_is_validated():
    with pytest.raises(
        ConfigError, match="data.labels: 'wall_hue' is not a class label"
    ):
        load_config(CONFIGS / "smoke_gan.yaml", ["data.labels=wall_hue"])
    with pytest.raises(ConfigError, match="allowed: 'inferred'"):
        load_config(
            CONFIGS / "smoke_gan.yaml",
            ["data.source=folder", "data.path=/tmp", "data.labels=has_bed"],
        )
    config = load_config(CONFIGS / "smoke_gan.yaml", ["data.labels=floor_texture"])
    assert class_names_of(config.data) == ["planks", "tiles", "carpet"]
    assert class_names_of(Config().data) is None


def test_folder_classes_are_the_sub_folders(tmp_path):
    from PIL import Image

    for room in ("kitchen", "bedroom", "bathroom"):
        (tmp_path / room).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / room / "a.png")
    config = load_config(
        CONFIGS / "smoke_gan.yaml",
        ["data.source=folder", f"data.path={tmp_path}", "data.labels=inferred"],
    )
    assert class_names_of(config.data) == ["bathroom", "bedroom", "kitchen"]
