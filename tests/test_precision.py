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


def test_auto_precision_follows_the_cpu(tmp_path, monkeypatch):
    from keras_gen import trainer

    assert trainer.resolve_precision("float32", {"avx512_bf16"}) == "float32"
    assert trainer.resolve_precision("mixed_float16", set()) == "mixed_float16"
    assert trainer.resolve_precision("auto", {"avx512f", "avx512_bf16"}) == (
        "mixed_bfloat16"
    )
    assert trainer.resolve_precision("auto", {"amx_bf16"}) == "mixed_bfloat16"
    assert trainer.resolve_precision("auto", {"avx2", "avx512f"}) == "float32"
    # Flags as Linux lists them; no cpuinfo (another OS) means no flags.
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert trainer.cpu_flags(info) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert trainer.cpu_flags(tmp_path / "missing") == set()
    # A visible GPU keeps float32: the user picks the GPU's mixed policy.
    monkeypatch.setattr(
        trainer.tf.config, "list_physical_devices", lambda kind=None: ["gpu:0"]
    )
    assert trainer.resolve_precision("auto", {"avx512_bf16"}) == "float32"


def test_auto_precision_builds_the_resolved_policy(monkeypatch):
    from keras_gen import trainer

    monkeypatch.setattr(trainer, "cpu_flags", lambda: {"avx512_bf16"})
    monkeypatch.setattr(
        trainer.tf.config, "list_physical_devices", lambda kind=None: []
    )
    cfg = config_from_dict(
        {
            "model": {"type": "vae", "image_size": 32, "width": 8, "latent_dim": 16},
            "train": {"batch_size": 8, "precision": "auto"},
        }
    )
    model = build_model(cfg)
    assert model.encoder.layers[2].compute_dtype == "bfloat16"
    monkeypatch.setattr(trainer, "cpu_flags", lambda: {"avx2"})
    model = build_model(cfg)
    assert model.encoder.layers[2].compute_dtype == "float32"
