"""`model.init_from` (every family) and `model.freeze_d_layers` (GAN)."""

from pathlib import Path

import pytest
import yaml

from keras_gen.config import ConfigError, config_from_dict, load_config, save_config


def write(path: Path, model: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"model": model}))
    return path


@pytest.mark.parametrize("kind", ["gan", "vae", "dae"])
def test_init_from_defaults_to_none_and_takes_a_preset(kind):
    assert config_from_dict({"model": {"type": kind}}).model.init_from is None
    model = {"type": kind, "init_from": "preset:bedroom_gan-64"}
    assert config_from_dict({"model": model}).model.init_from == "preset:bedroom_gan-64"


def test_init_from_a_keras_file_is_relative_to_the_config(tmp_path, monkeypatch):
    path = write(
        tmp_path / "configs" / "c.yaml", {"init_from": "../runs/a/model.keras"}
    )
    monkeypatch.chdir(tmp_path / "configs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(path)
    assert cfg.model.init_from == str(tmp_path / "runs" / "a" / "model.keras")
    absolute = str(tmp_path / "x.keras")
    write(path, {"init_from": absolute, "type": "vae"})
    assert load_config(path).model.init_from == absolute
    write(path, {"init_from": "preset:rooms", "type": "dae"})
    assert load_config(path).model.init_from == "preset:rooms"
    # --set values are relative to the working directory, like data.path.
    assert load_config(path, ["model.init_from=m.keras"]).model.init_from == "m.keras"
    # Saved absolute (a preset stays a preset).
    cfg = load_config(path, ["model.init_from=m.keras"])
    save_config(cfg, tmp_path / "saved.yaml")
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())["model"]
    assert saved["init_from"] == str(elsewhere / "m.keras")
    save_config(load_config(path), tmp_path / "saved.yaml")
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())["model"]
    assert saved["init_from"] == "preset:rooms"


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("runs/a/model.h5", "neither preset:NAME nor the path of a .keras model"),
        ("runs/a", "neither preset:NAME"),
        ("", "neither preset:NAME"),
        ("preset:", "preset name '' is not allowed"),
        ("preset:../x", "preset name '../x' is not allowed"),
        (3, "expected str or null"),
    ],
)
def test_bad_init_from_names_the_key_and_file(tmp_path, value, fragment):
    path = write(tmp_path / "c.yaml", {"type": "vae", "init_from": value})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: model.init_from")
    assert fragment in message


def test_freeze_d_layers_is_a_non_negative_gan_key(tmp_path):
    assert config_from_dict({}).model.freeze_d_layers == 0
    frozen = config_from_dict({"model": {"freeze_d_layers": 3, "init_from": "d.keras"}})
    assert frozen.model.freeze_d_layers == 3
    path = write(tmp_path / "c.yaml", {"freeze_d_layers": -1})
    with pytest.raises(
        ConfigError, match=f"^{path}: model.freeze_d_layers must be >= 0"
    ):
        load_config(path)
    write(path, {"freeze_d_layers": 1.5})
    with pytest.raises(ConfigError, match="model.freeze_d_layers: expected int"):
        load_config(path)
    write(path, {"type": "dae", "freeze_d_layers": 2})
    with pytest.raises(ConfigError, match="model.freeze_d_layers is a GAN key"):
        load_config(path)
