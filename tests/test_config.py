from pathlib import Path

import pytest

from keras_gen.config import ConfigError, config_from_dict, load_config, save_config

CONFIGS = sorted((Path(__file__).parents[1] / "training" / "configs").glob("*.yaml"))
SERIES = [p for p in CONFIGS if p.name.startswith("series_")]


@pytest.mark.parametrize(
    "path", [p for p in CONFIGS if p not in SERIES], ids=lambda p: p.name
)
def test_every_shipped_config_is_valid(path):
    cfg = load_config(path)
    assert cfg.name == path.stem


@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.name)
def test_every_shipped_series_config_is_valid(path):
    from keras_gen.series.config import load_series_config

    cfg = load_series_config(path)
    assert Path(cfg.data.path).is_absolute()


def test_overrides_are_parsed_as_yaml_and_typed():
    cfg = config_from_dict(
        {"name": "x"},
        [
            "train.epochs=3",
            "train.optimizer.learning_rate=1e-3",
            "model.type=vae",
            "data.flip=false",
            "train.d_optimizer.learning_rate=4e-4",
        ],
    )
    assert cfg.train.epochs == 3
    assert cfg.train.optimizer.learning_rate == pytest.approx(1e-3)
    assert cfg.model.type == "vae" and cfg.model.architecture == "conv"
    assert cfg.data.flip is False
    # A sub-section created by --set gets the defaults of its other keys.
    assert cfg.train.d_optimizer.learning_rate == pytest.approx(4e-4)
    assert cfg.train.d_optimizer.beta_1 == 0.5


@pytest.mark.parametrize(
    "data, fragments",
    [
        ({"trian": {}}, ["'trian'", "name, model, data, train, output"]),
        ({"train": {"batchsize": 3}}, ["'train.batchsize'", "batch_size"]),
        ({"model": {"image_size": 48}}, ["model.image_size", "32, 64, 128"]),
        ({"model": {"loss": "wgan"}}, ["model.loss", "'wgan-gp'", "'hinge'"]),
        ({"train": {"epochs": True}}, ["train.epochs", "int"]),
        ({"train": {"epochs": 0}}, ["train.epochs", "> 0"]),
        ({"train": {"optimizer": {"learning_rate": "fast"}}}, ["learning_rate"]),
        ({"data": {"source": "folder"}}, ["data.path"]),
        ({"data": {"source": "s3"}}, ["data.source", "'rooms'", "'folder'"]),
        ({"model": {"type": "gan", "architecture": "conv"}}, ["model.architecture"]),
        (
            {"model": {"type": "vae", "architecture": "unet"}},
            ["model.architecture", "'residual'"],
        ),
        ({"model": {"type": "vae", "free_bits": -1}}, ["model.free_bits", ">= 0"]),
        (
            {"model": {"type": "vae", "kl_schedule": "cosine"}},
            ["model.kl_schedule", "'cyclical'"],
        ),
        (
            {"model": {"type": "vae", "kl_schedule": "warmup"}},
            ["model.kl_schedule", "kl_warmup_steps"],
        ),
        ({"model": {"type": "vae", "kl_cycle_ratio": 0}}, ["model.kl_cycle_ratio"]),
        (
            {"model": {"type": "vae", "learned_sigma": "global"}},
            ["model.learned_sigma", "'gaussian'"],
        ),
        (
            {"model": {"type": "vae", "learned_sigma": "pixel"}},
            ["model.learned_sigma", "'channel'"],
        ),
        (
            {"model": {"type": "vae", "denoising": {"noise": "poisson"}}},
            ["model.denoising.noise", "salt_pepper"],
        ),
        (
            {"model": {"type": "vae", "denoising": {"sigma": [0.2, 0.1]}}},
            ["model.denoising.sigma", "lo <= hi"],
        ),
        (
            {"model": {"type": "vae", "denoising": {"sigmaa": 0.1}}},
            ["model.denoising", "'sigmaa'", "mask_size"],
        ),
        ({"model": {"type": "vae", "denoising": 0.1}}, ["model.denoising", "dict"]),
        ({"model": {"augment_p": 1.5}}, ["model.augment_p", "[0, 1]"]),
        ({"model": {"augment_p": "often"}}, ["model.augment_p", "'adaptive'"]),
        ({"model": {"ada_target": 1.0}}, ["model.ada_target", "(0, 1)"]),
        ({"model": {"ada_interval": 0}}, ["model.ada_interval", "> 0"]),
        (
            {"data": {"source": "folder", "path": "x", "validation_images": 8}},
            ["data.validation_images", "data.validation_path"],
        ),
    ],
)
def test_bad_values_name_the_key(data, fragments):
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_vae_options_parse_and_kl_schedule_defaults():
    cfg = config_from_dict(
        {"model": {"type": "vae", "kl_warmup_steps": 10}},
        [
            "model.denoising={noise: gaussian, sigma: [0.05, 0.2]}",
            "model.likelihood=gaussian",
            "model.learned_sigma=channel",
            "model.architecture=residual",
        ],
    )
    m = cfg.model
    assert m.kl_schedule == "warmup"  # inferred from kl_warmup_steps
    assert m.denoising["sigma"] == [0.05, 0.2] and m.denoising["noise"] == "gaussian"
    assert m.learned_sigma == "channel" and m.architecture == "residual"
    assert config_from_dict({"model": {"type": "vae"}}).model.kl_schedule == (
        "constant"
    )
    cyc = config_from_dict({"model": {"type": "vae", "kl_schedule": "cyclical"}})
    assert cyc.model.kl_schedule == "cyclical" and cyc.model.kl_cycle_steps == 1000


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key=value"):
        config_from_dict({}, ["train.epochs"])
    with pytest.raises(ConfigError, match="not a section"):
        config_from_dict({"name": "x"}, ["name.sub=1"])


def test_load_names_file_and_round_trips(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "exp.yaml"
    path.write_text("model:\n  type: vae\ntrain:\n  epochs: 4\n")
    cfg = load_config(path)
    assert cfg.name == "exp" and cfg.train.epochs == 4
    (tmp_path / "run").mkdir()
    save_config(cfg, tmp_path / "run" / "saved.yaml")
    again = load_config(tmp_path / "run" / "saved.yaml")
    # The saved file names the work dir absolutely: the same folder.
    assert again.output.work_dir == str(tmp_path / "runs" / "{name}")
    again.output.work_dir = cfg.output.work_dir
    assert again == cfg


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match="bad.yaml.*train.epoch"):
        load_config(bad)


@pytest.mark.parametrize("name", ["..", ".", "a/b", ".hidden"])
def test_run_names_that_escape_their_folder_are_refused(name):
    with pytest.raises(ConfigError, match="not allowed"):
        config_from_dict({"name": name})


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("train:\n  epochs: 2\n  epochs: 3\n", "'epochs' is given twice (line 3)"),
        ("train:\n  optimizer:\n    learning_rate: .nan\n", "not a finite number"),
        ("train:\n  optimizer:\n    learning_rate: .inf\n", "not a finite number"),
        ("train:\n  optimizer:\n    beta_1: 1.0\n", "beta_1 must be in [0, 1)"),
        ("output:\n  work_dir: runs/{nmae}\n", "unknown placeholder(s) {nmae}"),
        ("model:\n  latent_dim: 100000000\n", "model.latent_dim is 100000000"),
        ("output:\n  num_samples: 100000\n", "output.num_samples is 100000"),
    ],
)
def test_strict_files_refuse_what_would_train_something_else(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert fragment in str(err.value) and "c.yaml" in str(err.value)


def test_paths_in_a_file_are_relative_to_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "c.yaml").write_text(
        "data:\n  source: folder\n  path: ../photos\n"
        "output:\n  work_dir: ../runs/{name}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(folder / "c.yaml")
    assert cfg.data.path == str(tmp_path / "photos")
    assert cfg.output.work_dir == str(tmp_path / "runs" / "{name}")
    # --set values are the user's, relative to where the command runs.
    cfg = load_config(folder / "c.yaml", ["data.path=mine"])
    assert cfg.data.path == "mine"
    # Not written in the file: the default stays relative to the cwd.
    (folder / "d.yaml").write_text("name: d\n")
    assert load_config(folder / "d.yaml").output.work_dir == "runs/{name}"


def test_dae_defaults_to_blind_gaussian_noise_and_checks_depth(tmp_path):
    from keras_gen.config import DAE_DEFAULT_NOISE

    path = tmp_path / "dae.yaml"
    path.write_text("name: d\nmodel:\n  type: dae\n")
    config = load_config(path)
    assert config.model.denoising["sigma"] == DAE_DEFAULT_NOISE["sigma"]
    assert config.model.residual and not config.model.downsample
    with pytest.raises(ConfigError, match="model.depth"):
        load_config(path, ["model.depth=0"])
    with pytest.raises(ConfigError, match="model.denoising"):
        load_config(path, ["model.denoising.noise=pink"])
