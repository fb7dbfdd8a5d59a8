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
        ("smoke_gan.yaml", ["model.loss=lsgan"]),
        ("smoke_gan.yaml", ["model.loss=wgan-gp"]),
        ("smoke_gan_regularized.yaml", []),
    ],
    ids=["lsgan", "wgan-gp", "hinge-sn-ema-diffaugment-r1"],
)
def test_gan_configurations_train(config, overrides, tmp_path):
    cfg = load_config(CONFIGS / config, QUICK + overrides)
    result = train(cfg, work_dir=tmp_path)
    assert result.images_seen == 2 * 16
    assert all(np.isfinite(v[-1]) for v in result.history.values())
    assert result.samples and result.model_path.is_file()
    model = result.model
    if cfg.model.ema_decay is not None:
        assert model.ema_generator is not None
        assert "r1_penalty" in result.history
    # Two TTUR learning rates when given.
    if cfg.train.d_optimizer is not None:
        assert float(model.d_optimizer.learning_rate) == pytest.approx(4e-4)
        assert float(model.g_optimizer.learning_rate) == pytest.approx(1e-4)
