"""`model.type` picks one config class per family; other families' keys fail.

Configs saved by older runs listed the keys of every family (at their
defaults): they must still load.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml

from keras_gen.config import (
    Config,
    ConfigError,
    DAEConfig,
    GANConfig,
    ModelConfig,
    VAEConfig,
    config_from_dict,
    load_config,
    save_config,
)

CONFIGS = Path(__file__).parents[2] / "training" / "configs"

#: The model section of smoke_gan's config.yaml as runs saved it before the
#: families were split: every family's keys, the others at their defaults.
OLD_SAVED_GAN_MODEL = {
    "type": "gan",
    "architecture": "dcgan",
    "image_size": 32,
    "latent_dim": 16,
    "width": 8,
    "seed": 0,
    "loss": "ns",
    "gradient_penalty_weight": 10.0,
    "spectral_norm": False,
    "ema_decay": None,
    "augment": None,
    "augment_p": "adaptive",
    "ada_target": 0.6,
    "ada_interval": 4,
    "ada_speed_kimg": 100.0,
    "r1_gamma": 0.0,
    "n_critic": 1,
    "beta": 1.0,
    "likelihood": "bernoulli",
    "gaussian_sigma": 0.1,
    "learned_sigma": None,
    "free_bits": 0.0,
    "kl_schedule": "constant",  # what validation set it to, for every family
    "kl_warmup_steps": 0,
    "kl_cycle_steps": 1000,
    "kl_cycle_ratio": 0.5,
    "denoising": None,
    "depth": 4,
    "downsample": False,
    "residual": True,
}
GAN_KEYS = {"loss", "gradient_penalty_weight", "spectral_norm", "ema_decay"}
GAN_KEYS |= {"augment", "augment_p", "ada_target", "ada_interval", "ada_speed_kimg"}
GAN_KEYS |= {"r1_gamma", "n_critic", "latent_dim"}
OLD_SAVED_VAE_MODEL = {
    **{k: v for k, v in OLD_SAVED_GAN_MODEL.items() if k not in ("augment",)},
    "type": "vae",
    "architecture": "conv",
    "latent_dim": 8,
    "augment": "auto",
    "kl_schedule": "warmup",
    "kl_warmup_steps": 4,
}
OLD_SAVED_DAE_MODEL = {
    **OLD_SAVED_VAE_MODEL,
    "type": "dae",
    "architecture": "dcgan",
    "latent_dim": 100,
    "kl_schedule": "constant",
    "kl_warmup_steps": 0,
    "denoising": {
        "noise": "gaussian",
        "sigma": [0.02, 0.25],
        "amount": 0.05,
        "mask_size": 0.25,
    },
    "depth": 1,
}


def write(folder: Path, name: str, data: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "kind, cls, architecture",
    [
        ("gan", GANConfig, "dcgan"),
        ("vae", VAEConfig, "conv"),
        ("dae", DAEConfig, "dcgan"),
    ],
)
def test_type_selects_the_family_class(kind, cls, architecture):
    model = config_from_dict({"model": {"type": kind}}).model
    assert type(model) is cls and isinstance(model, ModelConfig)
    assert model.type == kind and model.architecture == architecture
    assert model.init_from is None


def test_default_is_a_gan_and_families_keep_only_their_keys():
    assert type(Config().model) is GANConfig
    assert type(config_from_dict({}).model) is GANConfig
    names = {
        k: {f.name for f in dataclasses.fields(c)}
        for k, c in [("gan", GANConfig), ("vae", VAEConfig), ("dae", DAEConfig)]
    }
    assert "beta" not in names["gan"] and "depth" not in names["gan"]
    assert "loss" not in names["vae"] and "residual" not in names["vae"]
    assert "latent_dim" not in names["dae"] and "kl_schedule" not in names["dae"]
    assert {"denoising"} <= names["vae"] & names["dae"]
    assert {"freeze_d_layers"} <= names["gan"]


def test_architectures_are_checked_per_family():
    vae = config_from_dict({"model": {"type": "vae", "architecture": "dcgan"}})
    assert vae.model.architecture == "conv"  # the GAN default, read as "conv"
    unet = config_from_dict({"model": {"type": "dae", "architecture": "unet"}})
    assert unet.model.architecture == "unet"
    with pytest.raises(ConfigError, match="'resnet' is not a DAE architecture"):
        config_from_dict({"model": {"type": "dae", "architecture": "resnet"}})
    with pytest.raises(ConfigError, match="'unet' is not a GAN architecture"):
        config_from_dict({"model": {"architecture": "unet"}})


@pytest.mark.parametrize(
    "model, fragment",
    [
        (
            {"type": "gan", "beta": 4.0},
            "model.beta is a VAE key; this config has model.type: gan.",
        ),
        ({"beta": 4.0}, "model.type: gan (the default)"),
        ({"type": "vae", "loss": "hinge"}, "model.loss is a GAN key"),
        ({"type": "vae", "depth": 2}, "model.depth is a DAE key"),
        (
            {"type": "gan", "denoising": {"noise": "mask"}},
            "model.denoising is a VAE and DAE key",
        ),
        ({"type": "dae", "latent_dim": 8}, "model.latent_dim is a GAN and VAE key"),
        ({"type": "vae", "freeze_d_layers": 1}, "model.freeze_d_layers is a GAN key"),
    ],
)
def test_a_key_of_another_family_fails_naming_key_family_and_file(
    tmp_path, model, fragment
):
    path = write(tmp_path, "c.yaml", {"model": model})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert fragment in str(err.value) and str(path) in str(err.value)


def test_an_unknown_key_still_says_unknown_with_the_file(tmp_path):
    path = write(tmp_path, "c.yaml", {"model": {"type": "vae", "betaa": 2}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: Unknown config key 'model.betaa'")
    assert "beta, likelihood" in message and "loss" not in message


def test_a_bad_type_fails_before_any_family_check(tmp_path):
    path = write(tmp_path, "c.yaml", {"model": {"type": "gann", "beta": 3}})
    with pytest.raises(ConfigError, match="model.type: 'gann' is not allowed"):
        load_config(path)


@pytest.mark.parametrize(
    "name, model",
    [
        ("smoke_gan", OLD_SAVED_GAN_MODEL),
        ("smoke_vae", OLD_SAVED_VAE_MODEL),
        ("smoke_dae", OLD_SAVED_DAE_MODEL),
    ],
)
def test_configs_saved_by_older_runs_still_load(tmp_path, name, model):
    current = load_config(CONFIGS / f"{name}.yaml")
    saved = {**current.to_dict(), "model": model}
    old = load_config(write(tmp_path, "config.yaml", saved))
    assert old.model == current.model and type(old.model) is type(current.model)
    # (the saved relative work_dir is read relative to the saved file)
    old.output.work_dir = current.output.work_dir
    assert old == current


@pytest.mark.parametrize(
    "key, value",
    [
        ("beta", 2.0),
        ("kl_schedule", "cyclical"),
        ("depth", 2),
        ("residual", False),
        ("downsample", 0),
    ],
)
def test_an_old_saved_config_with_a_foreign_non_default_value_fails(
    tmp_path, key, value
):
    saved = {"model": {**OLD_SAVED_GAN_MODEL, key: value}}
    with pytest.raises(ConfigError, match=f"model.{key} is a (VAE|DAE) key"):
        load_config(write(tmp_path, "config.yaml", saved))


def test_set_type_to_another_family_checks_the_keys_written(tmp_path):
    # smoke_gan writes `augment: null` (not the default): not a VAE setting.
    with pytest.raises(ConfigError, match="model.augment is a GAN key"):
        load_config(CONFIGS / "smoke_gan.yaml", ["model.type=vae"])
    vae = load_config(
        CONFIGS / "smoke_gan.yaml", ["model.type=vae", "model.augment=auto"]
    )
    assert type(vae.model) is VAEConfig and vae.model.latent_dim == 16


def test_saved_config_holds_only_the_family_keys(tmp_path):
    for name, cls in [
        ("smoke_gan", GANConfig),
        ("smoke_vae", VAEConfig),
        ("smoke_dae", DAEConfig),
    ]:
        save_config(load_config(CONFIGS / f"{name}.yaml"), tmp_path / f"{name}.yaml")
        model = yaml.safe_load((tmp_path / f"{name}.yaml").read_text())["model"]
        assert list(model) == [f.name for f in dataclasses.fields(cls)]
    gan = yaml.safe_load((tmp_path / "smoke_gan.yaml").read_text())["model"]
    assert not {"beta", "likelihood", "kl_schedule", "depth", "residual"} & set(gan)
    vae = yaml.safe_load((tmp_path / "smoke_vae.yaml").read_text())["model"]
    assert not GAN_KEYS - {"latent_dim"} & set(vae)


def test_a_gan_runs_saved_config_holds_no_vae_key(tmp_path):
    from keras_gen.trainer import train

    quick = [
        "train.epochs=1",
        "train.steps_per_epoch=1",
        "output.export_dir=null",
        "output.tensorboard=false",
        "output.verbose=0",
        "output.num_samples=4",
    ]
    train(load_config(CONFIGS / "smoke_gan.yaml", quick), work_dir=tmp_path)
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    vae_only = {f.name for f in dataclasses.fields(VAEConfig)} - {
        f.name for f in dataclasses.fields(GANConfig)
    }
    assert "beta" in vae_only and not vae_only & set(saved["model"])
    assert set(saved["model"]) == {f.name for f in dataclasses.fields(GANConfig)}
    assert (
        load_config(tmp_path / "config.yaml", quick).model
        == load_config(CONFIGS / "smoke_gan.yaml").model
    )
