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
    from keras_gen import precision

    assert precision.resolve_precision("float32", {"avx512_bf16"}) == "float32"
    assert precision.resolve_precision("mixed_float16", set()) == "mixed_float16"
    assert precision.resolve_precision("auto", {"avx512f", "avx512_bf16"}) == (
        "mixed_bfloat16"
    )
    assert precision.resolve_precision("auto", {"amx_bf16"}) == "mixed_bfloat16"
    assert precision.resolve_precision("auto", {"avx2", "avx512f"}) == "float32"
    with pytest.raises(ValueError, match="'bf16'.*mixed_bfloat16"):
        precision.resolve_precision("bf16")
    # Flags as Linux lists them; no cpuinfo (another OS) means no flags.
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert precision.cpu_flags(info) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert precision.cpu_flags(tmp_path / "missing") == set()
    # A visible GPU keeps float32: the user picks the GPU's mixed policy.
    monkeypatch.setattr(
        precision.tf.config, "list_physical_devices", lambda kind=None: ["gpu:0"]
    )
    assert precision.resolve_precision("auto", {"avx512_bf16"}) == "float32"


def test_auto_precision_builds_the_resolved_policy(monkeypatch):
    from keras_gen import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512_bf16"})
    monkeypatch.setattr(precision, "has_gpu", lambda: False)
    cfg = tiny_config("vae", "auto")
    model = build_model(cfg)
    assert model.encoder.layers[2].compute_dtype == "bfloat16"
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    model = build_model(cfg)
    assert model.encoder.layers[2].compute_dtype == "float32"


def tiny_config(kind, precision):
    extra = {"ema_decay": 0.9} if kind == "gan" else {}
    return config_from_dict(
        {
            "model": {
                "type": kind,
                "image_size": 32,
                "width": 8,
                "latent_dim": 16,
                **extra,
            },
            "train": {"batch_size": 8, "precision": precision},
        }
    )


def twins(kind):
    """The same weights in a bfloat16 model and a float32 one."""
    mixed = build_model(tiny_config(kind, "mixed_bfloat16"))
    plain = build_model(tiny_config(kind, "float32"))
    plain.set_weights(mixed.get_weights())
    return mixed, plain


def latents(n=4):
    return np.random.default_rng(0).normal(size=(n, 16)).astype("float32")


def output_network(model):
    return model.decoder if hasattr(model, "decoder") else model.ema_generator


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_float32_compute_runs_a_bfloat16_model_as_float32(kind):
    from keras_gen.precision import compute_dtypes, float32_compute

    mixed, plain = twins(kind)
    assert compute_dtypes(mixed) == {"bfloat16"} and compute_dtypes(plain) == set()
    z = latents()
    ref = keras.ops.convert_to_numpy(output_network(plain)(z))
    low = keras.ops.convert_to_numpy(output_network(mixed)(z))
    with float32_compute(mixed):
        assert compute_dtypes(mixed) == set()
        same = keras.ops.convert_to_numpy(output_network(mixed)(z))
    np.testing.assert_array_equal(same, ref)
    assert not np.array_equal(low, ref)  # bfloat16 really computed differently
    assert compute_dtypes(mixed) == {"bfloat16"}  # restored


def test_load_model_computes_in_float32_without_bfloat16_hardware(
    tmp_path, monkeypatch
):
    from keras_gen import precision

    mixed, plain = twins("gan")
    compile_model(mixed, tiny_config("gan", "mixed_bfloat16"))
    path = tmp_path / "gan.keras"
    mixed.save(path)
    monkeypatch.setattr(precision, "has_gpu", lambda: False)
    here = precision.load_model(path, flags={"avx512f", "avx512_bf16"})
    assert precision.compute_dtypes(here) == {"bfloat16"}
    elsewhere = precision.load_model(path, flags={"avx2"})
    assert precision.compute_dtypes(elsewhere) == set()
    np.testing.assert_array_equal(
        elsewhere.generate(4, seed=0), plain.generate(4, seed=0)
    )
    # Still a trainable model with its optimizers.
    assert elsewhere.d_optimizer is not None and elsewhere.g_optimizer is not None


def _graph_dtypes(signature) -> str:
    graph = signature.graph.as_graph_def()
    return str(graph) + "".join(str(f) for f in graph.library.function)


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_export_of_a_bfloat16_model_computes_in_float32(kind, tmp_path):
    import tensorflow as tf

    from keras_gen.export import export_generator
    from keras_gen.precision import compute_dtypes

    mixed, plain = twins(kind)
    z = latents()
    path = export_generator(mixed, tmp_path, "m", write_config=False)
    ref = export_generator(plain, tmp_path, "ref", write_config=False)
    assert compute_dtypes(mixed) == {"bfloat16"}  # the model itself is unchanged
    served = tf.saved_model.load(str(path)).signatures
    reference = tf.saved_model.load(str(ref)).signatures
    names = ["serving_default"] + (["encode", "anomaly_score"] if kind == "vae" else [])
    for name in names:
        assert "DT_BFLOAT16" not in _graph_dtypes(served[name]), name
    if kind == "gan":
        kept = export_generator(
            mixed, tmp_path, "m", version=2, write_config=False, keep_precision=True
        )
        kept_signature = tf.saved_model.load(str(kept)).signatures["serving_default"]
        assert "DT_BFLOAT16" in _graph_dtypes(kept_signature)
    np.testing.assert_array_equal(
        served["serving_default"](z=tf.constant(z))["images"],
        reference["serving_default"](z=tf.constant(z))["images"],
    )
