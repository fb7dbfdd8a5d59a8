"""Mixed precision: a few bfloat16 steps on CPU track the float32 run."""

import keras
import numpy as np
import pytest

from keras_gen.config import config_from_dict
from keras_gen.trainer import build_model, compile_model


def run(kind, precision, steps=4):
    cfg = config_from_dict(
        {
            "model": {"type": kind, "image_size": 32, "width": 8, "latent_dim": 16},
            "train": {"batch_size": 8, "precision": precision},
        }
    )
    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    compile_model(model, cfg)
    low = -1.0 if kind == "gan" else 0.0
    x = (
        np.random.default_rng(0)
        .uniform(low, 1, (8 * steps, 32, 32, 3))
        .astype("float32")
    )
    history = model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model, {k: v[-1] for k, v in history.history.items()}


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_bfloat16_losses_are_finite_and_close_to_float32(kind):
    ref_model, ref = run(kind, "float32")
    model, logs = run(kind, "mixed_bfloat16")
    # The policy really applied: convolutions compute in bfloat16, while the
    # global policy is restored for whatever is built next.
    net = model.generator if kind == "gan" else model.encoder
    assert net.layers[2].compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    # Outputs and variables stay float32.
    assert all(w.dtype == "float32" for w in model.trainable_weights)
    assert model.generate(2, seed=0).dtype == np.float32
    for name, value in ref.items():
        assert np.isfinite(logs[name]), name
        # bfloat16 keeps ~3 significant digits; the losses agree to a few %.
        assert logs[name] == pytest.approx(value, rel=0.05, abs=0.05), name


def test_float16_uses_loss_scaling():
    model, logs = run("gan", "mixed_float16")
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert all(np.isfinite(v) for v in logs.values())
    # Dynamic loss scaling: a step whose scaled gradients overflow is skipped
    # and the scale halved; the others are applied.
    applied = int(model.g_optimizer.iterations)
    assert 2 <= applied <= 4
    scale = float(model.g_optimizer.dynamic_scale)
    assert (scale < 2.0**15) == (applied < 4)
