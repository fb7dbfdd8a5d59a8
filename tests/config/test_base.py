"""`base:` makes a config file a delta of another one."""

import dataclasses
from pathlib import Path

import pytest

from keras_gen.config import ConfigError, load_config
from keras_gen.series.config import load_series_config

CONFIGS = Path(__file__).parents[2] / "training" / "configs"

BASE = """\
name: base_run
model:
  type: vae
  width: 16
  denoising:
    noise: gaussian
    sigma: [0.1, 0.2]
train:
  epochs: 3
  d_optimizer:
    learning_rate: 4.0e-4
  optimizer:
    learning_rate: 1.0e-3
    beta_1: 0.9
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_mappings_merge_scalars_and_lists_replace(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    delta = write(
        tmp_path / "delta.yaml",
        "base: base.yaml\n"
        "model:\n  denoising:\n    sigma: [0.3, 0.4]\n"
        "train:\n  d_optimizer: null\n  optimizer:\n    learning_rate: 2.0e-3\n",
    )
    cfg = load_config(delta)
    assert cfg.name == "delta"  # a config is named by its own file
    assert cfg.model.type == "vae" and cfg.model.width == 16
    assert cfg.model.denoising["noise"] == "gaussian"  # merged
    assert cfg.model.denoising["sigma"] == [0.3, 0.4]  # a list is replaced
    assert cfg.train.d_optimizer is None  # a scalar replaces a mapping
    assert cfg.train.optimizer.learning_rate == pytest.approx(2e-3)
    assert cfg.train.optimizer.beta_1 == pytest.approx(0.9)
    assert cfg.train.epochs == 3
    # --set applies over the merged file.
    assert load_config(delta, ["train.epochs=5"]).train.epochs == 5


def test_bases_nest(tmp_path):
    write(tmp_path / "a.yaml", "model:\n  width: 16\ntrain:\n  epochs: 3\n")
    write(tmp_path / "b.yaml", "base: a.yaml\ntrain:\n  epochs: 4\n  batch_size: 8\n")
    c = write(tmp_path / "c.yaml", "base: b.yaml\nname: mine\ntrain:\n  epochs: 5\n")
    cfg = load_config(c)
    assert (cfg.name, cfg.model.width, cfg.train.batch_size, cfg.train.epochs) == (
        "mine",
        16,
        8,
        5,
    )


@pytest.mark.parametrize(
    "files, start",
    [
        ({"a.yaml": "base: a.yaml\n"}, "a.yaml"),
        ({"a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\n"}, "a.yaml"),
        (
            {
                "a.yaml": "base: b.yaml\n",
                "b.yaml": "base: c.yaml\n",
                "c.yaml": "base: b.yaml\n",
            },
            "a.yaml",
        ),
    ],
)
def test_a_cycle_of_bases_fails(tmp_path, files, start):
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(ConfigError, match="cycle of bases") as err:
        load_config(tmp_path / start)
    assert all(name in str(err.value) for name in files)


def test_a_missing_base_names_it_and_the_file_that_says_base(tmp_path):
    delta = write(tmp_path / "sub" / "delta.yaml", "base: ../nope.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_config(delta)
    message = str(err.value)
    assert message.startswith(f"{delta}: base: '../nope.yaml' not found")
    assert str(tmp_path / "sub" / ".." / "nope.yaml") in message


@pytest.mark.parametrize("value", ["3", "''", "[a.yaml]", "null"])
def test_base_must_be_a_path(tmp_path, value):
    delta = write(tmp_path / "delta.yaml", f"base: {value}\nname: x\n")
    if value == "null":  # no base
        assert load_config(delta).name == "x"
        return
    with pytest.raises(ConfigError, match=f"{delta}: base: expected the path"):
        load_config(delta)


def test_paths_are_relative_to_the_file_that_wrote_them(tmp_path, monkeypatch):
    write(
        tmp_path / "common" / "base.yaml",
        "data:\n  source: folder\n  path: photos\n"
        "output:\n  work_dir: runs/{name}\n"
        "model:\n  init_from: weights/g.keras\n",
    )
    delta = write(
        tmp_path / "exp" / "delta.yaml",
        "base: ../common/base.yaml\ndata:\n  validation_path: held_out\n",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(delta)
    assert cfg.data.path == str(tmp_path / "common" / "photos")
    assert cfg.output.work_dir == str(tmp_path / "common" / "runs" / "{name}")
    assert cfg.model.init_from == str(tmp_path / "common" / "weights" / "g.keras")
    # A path the delta writes is relative to the delta.
    write(delta, "base: ../common/base.yaml\ndata:\n  path: mine\n")
    assert load_config(delta).data.path == str(tmp_path / "exp" / "mine")
    # --set stays relative to the working directory.
    assert load_config(delta, ["data.path=cwd"]).data.path == "cwd"


def test_errors_name_the_file_the_key_came_from(tmp_path):
    base = write(tmp_path / "base.yaml", "model:\n  loss: hinge\ntrain:\n  epochs: 0\n")
    delta = write(tmp_path / "delta.yaml", "base: base.yaml\ntrain:\n  epochs: 2\n")
    load_config(delta)  # the delta fixes the base's bad value
    with pytest.raises(ConfigError) as err:
        load_config(delta, ["train.epochs=0"])
    assert str(err.value).startswith(f"{delta}: train.epochs must be > 0")
    write(delta, "base: base.yaml\ntrain:\n  batchsize: 2\n")
    with pytest.raises(
        ConfigError, match=f"^{delta}: Unknown config key 'train.batchsize'"
    ):
        load_config(delta)
    # The delta switches to a VAE: the base's GAN key is at fault.
    write(delta, "base: base.yaml\nmodel:\n  type: vae\ntrain:\n  epochs: 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(delta)
    assert str(err.value).startswith(f"{base} (base of {delta}): model.loss is a GAN")
    write(delta, "base: base.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_config(delta)
    assert str(err.value).startswith(f"{base} (base of {delta}): train.epochs must")


def test_a_bad_base_file_is_named(tmp_path):
    write(tmp_path / "base.yaml", "model: [\n")
    delta = write(tmp_path / "delta.yaml", "base: base.yaml\n")
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'base.yaml'}: not valid YAML"):
        load_config(delta)


def test_series_configs_take_a_base_too(tmp_path):
    delta = write(
        tmp_path / "s.yaml",
        f"base: {CONFIGS / 'series_smoke.yaml'}\nmodel:\n  window: 64\n",
    )
    cfg = load_series_config(delta)
    smoke = load_series_config(CONFIGS / "series_smoke.yaml")
    assert cfg.name == "s" and cfg.model.window == 64
    assert cfg.data == smoke.data and cfg.train == smoke.train


@pytest.mark.parametrize(
    "delta, base, changes",
    [
        (
            "quality_dcgan_ema",
            "quality_dcgan",
            {"model": {"ema_decay": 0.995, "augment": "translation,cutout"}},
        ),
        ("quality_sn_ns", "quality_dcgan_ema", {"model": {"spectral_norm": True}}),
        ("smoke_gan_resnet", "smoke_gan", {"data": {"labels": "has_bed"}}),
    ],
)
def test_shipped_deltas_are_their_base_plus_a_few_keys(delta, base, changes):
    got, want = (
        load_config(CONFIGS / f"{delta}.yaml"),
        load_config(CONFIGS / f"{base}.yaml"),
    )
    assert got.name == delta
    for section, values in changes.items():
        assert dataclasses.asdict(getattr(got, section)).items() >= values.items()
        setattr(got, section, getattr(want, section))
    if delta == "smoke_gan_resnet":
        return  # also other model and optimizer keys
    got.name = want.name
    assert got == want
