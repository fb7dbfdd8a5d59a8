"""Every GAN configuration trains a few steps through the trainer."""

from pathlib import Path

import numpy as np
import pytest

from keras_gen.config import load_config
from keras_gen.trainer import train

CONFIGS = Path(__file__).parents[1] / "training" / "configs"
QUICK = [
    "train.epochs=1",
    "train.steps_per_epoch=2",
    "output.export_dir=null",
    "output.tensorboard=false",
    "output.verbose=0",
]


@pytest.mark.parametrize(
    "config, overrides",
    [
        ("smoke_gan.yaml", ["model.loss=lsgan", "output.checkpoint_every=1"]),
        ("smoke_gan.yaml", ["model.loss=wgan-gp"]),
        (
            "smoke_gan.yaml",
            [
                "model.loss=wgan-gp",
                "model.n_critic=3",
                "train.optimizer.schedule=cosine",
            ],
        ),
        ("smoke_gan_regularized.yaml", []),
        ("smoke_gan_resnet.yaml", []),
        ("smoke_gan_resnet.yaml", ["model.image_size=64", "data.labels=null"]),
    ],
    ids=[
        "lsgan",
        "wgan-gp",
        "wgan-gp-n_critic-3",
        "hinge-sn-ema-diffaugment-r1",
        "resnet-conditional",
        "resnet-64",
    ],
)
def test_gan_configurations_train(config, overrides, tmp_path):
    cfg = load_config(CONFIGS / config, QUICK + overrides)
    result = train(cfg, work_dir=tmp_path)
    n_critic = cfg.model.n_critic
    # Each of the 2 steps feeds n_critic discriminator updates a batch each.
    assert result.images_seen == 2 * 16 * n_critic
    model = result.model
    assert int(model.g_optimizer.iterations) == 2
    assert int(model.d_optimizer.iterations) == 2 * n_critic
    assert "diversity" in result.history
    assert (model.num_classes is not None) == (cfg.data.labels is not None)
    assert all(np.isfinite(v[-1]) for v in result.history.values())
    assert result.samples and result.model_path.is_file()
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.keras"))
    assert kept == (["epoch_001.keras"] if cfg.output.checkpoint_every else [])
    if cfg.model.ema_decay is not None:
        assert model.ema_generator is not None
    assert ("r1_penalty" in result.history) == (cfg.model.r1_gamma > 0)
    # Two TTUR learning rates when given.
    if cfg.train.optimizer.schedule == "cosine":
        # D's schedule spans its n_critic updates per step, G's one.
        assert model.d_optimizer.learning_rate.numpy() == 0.0
        assert model.d_optimizer._learning_rate.decay_steps == 2 * n_critic
        assert model.g_optimizer._learning_rate.decay_steps == 2
    if cfg.train.d_optimizer is not None:
        assert float(model.d_optimizer.learning_rate) == pytest.approx(4e-4)
        assert float(model.g_optimizer.learning_rate) == pytest.approx(1e-4)


def test_cosine_schedule_spans_the_run_and_is_saved(tmp_path):
    import keras

    cfg = load_config(
        CONFIGS / "smoke_dae.yaml",
        [
            *QUICK,
            "train.epochs=2",
            "train.optimizer.schedule=cosine",
            "train.optimizer.alpha=0.1",
        ],
    )
    result = train(cfg, work_dir=tmp_path)
    # 4 steps: halfway down the cosine after epoch 1, at alpha after epoch 2.
    assert result.history["learning_rate"] == pytest.approx([0.55e-3, 0.1e-3])
    loaded = keras.saving.load_model(result.model_path)
    schedule = loaded.optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert schedule.decay_steps == 4 and int(loaded.optimizer.iterations) == 4


def test_conditional_vae_trains_with_validation_and_options(tmp_path):
    cfg = load_config(
        CONFIGS / "smoke_vae.yaml",
        [
            *QUICK,
            "data.labels=has_bed",
            "model.kl_schedule=cyclical",
            "model.kl_cycle_steps=2",
            "model.free_bits=0.1",
            "model.architecture=residual",
            "model.denoising={noise: mask, mask_size: 0.25}",
        ],
    )
    result = train(cfg, work_dir=tmp_path)
    model = result.model
    assert model.num_classes == 2 and model.denoising["noise"] == "mask"
    history = result.history
    # Validation (rooms with another seed) and latent diagnostics, per epoch.
    for key in ("val_nelbo_bits_per_dim", "active_units", "kl_weight"):
        assert np.isfinite(history[key][-1]), key
    assert model.generate(2, seed=0, labels=1).shape == (2, 32, 32, 3)


def test_augment_auto_turns_diffaugment_on_for_small_datasets(tmp_path):
    from keras_gen.config import AUTO_AUGMENT_BELOW
    from keras_gen.models.factory import build_model, resolve_augment

    small = load_config(CONFIGS / "smoke_gan.yaml", ["model.augment=auto"])
    assert resolve_augment(small) == "translation,cutout"
    assert build_model(small).augment == "translation,cutout"
    large = load_config(
        CONFIGS / "smoke_gan.yaml",
        ["model.augment=auto", f"data.num_images={AUTO_AUGMENT_BELOW}"],
    )
    assert resolve_augment(large) is None
    # A folder counts its image files (listed, not decoded).
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{i}.png")
    folder = load_config(
        CONFIGS / "smoke_gan.yaml",
        ["model.augment=auto", "data.source=folder", f"data.path={tmp_path}"],
    )
    assert resolve_augment(folder) == "translation,cutout"
    explicit = load_config(CONFIGS / "smoke_gan.yaml", ["model.augment=color"])
    assert resolve_augment(explicit) == "color"
    assert resolve_augment(load_config(CONFIGS / "smoke_gan.yaml")) is None
