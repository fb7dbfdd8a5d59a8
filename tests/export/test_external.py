"""Checks by tools that are not our code: saved_model_cli, a fresh Python
without keras_gen, tf2onnx + onnxruntime, and the TFLite converter/runtime."""

from __future__ import annotations

import importlib.util
import sys
import sysconfig
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import BIN, GAN_LATENT, run, test_images


def max_step(a, b) -> int:
    return int(np.abs(np.asarray(a, int) - np.asarray(b, int)).max())


def test_saved_model_cli_run_gives_the_python_models_images(repo, gan, tmp_path):
    seeds = np.arange(20, 26, dtype=np.int64)
    np.save(tmp_path / "seeds.npy", seeds)
    run(
        [
            str(BIN / "saved_model_cli"),
            "run",
            "--dir",
            str(repo / "gan" / "1"),
            "--tag_set",
            "serve",
            "--signature_def",
            "generate",
            "--inputs",
            f"seed={tmp_path / 'seeds.npy'}",
            "--outdir",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
    )
    images = np.load(tmp_path / "out" / "images.npy")
    expected = gan.generate_uint8(len(seeds), seed=20)
    assert images.dtype == np.uint8 and images.shape == expected.shape
    assert max_step(images, expected) <= 1
    assert np.mean(images == expected) > 0.99


FRESH = """
import importlib.util, sys
sys.path.append({site!r})  # site-packages, but none of its .pth files
assert importlib.util.find_spec("keras_gen") is None, "keras_gen importable"
sys.modules["keras"] = None  # and not Keras either: TensorFlow alone
import numpy as np, tensorflow as tf
gan = tf.saved_model.load({gan!r})
vae = tf.saved_model.load({vae!r})
seeds = tf.constant([10, 11, 12], tf.int64)
x = tf.constant(np.load({images!r}))
np.savez(
    {out!r},
    gan=gan.signatures["generate"](seed=seeds)["images"].numpy(),
    vae=vae.signatures["reconstruct"](images=x)["images"].numpy(),
    score=vae.signatures["anomaly_score"](images=x)["score"].numpy(),
)
assert "keras_gen" not in sys.modules
"""


def test_savedmodel_serves_without_keras_gen_or_keras(repo, loaded, tmp_path):
    images = test_images(3)
    np.save(tmp_path / "images.npy", images)
    script = tmp_path / "fresh.py"
    script.write_text(
        FRESH.format(
            site=sysconfig.get_paths()["purelib"],
            gan=str(repo / "gan" / "1"),
            vae=str(repo / "vae" / "1"),
            images=str(tmp_path / "images.npy"),
            out=str(tmp_path / "fresh.npz"),
        )
    )
    # -I: no cwd, PYTHONPATH or user site; -S: no site-packages processing, so
    # the editable install's import hook for keras_gen is not there.
    run([sys.executable, "-I", "-S", str(script)], cwd=tmp_path)
    fresh = np.load(tmp_path / "fresh.npz")
    sig = loaded["vae"].signatures
    seeds = tf.constant([10, 11, 12], tf.int64)
    np.testing.assert_array_equal(
        fresh["gan"], loaded["gan"].signatures["generate"](seed=seeds)["images"]
    )
    x = tf.constant(images)
    np.testing.assert_array_equal(fresh["vae"], sig["reconstruct"](images=x)["images"])
    np.testing.assert_allclose(
        fresh["score"], sig["anomaly_score"](images=x)["score"], rtol=1e-6
    )


def latents(n: int = 8) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, GAN_LATENT)).astype("float32")


@pytest.mark.skipif(
    not (
        importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime")
    ),
    reason="tf2onnx/onnxruntime not installed (pip install 'keras-gen[onnx]')",
)
def test_onnx_runtime_matches_tensorflow(repo, loaded, gan, tmp_path):
    import onnxruntime as ort
    import tf2onnx

    # The exported signature, converted by tf2onnx's own command line.
    run(
        [
            sys.executable,
            "-m",
            "tf2onnx.convert",
            "--saved-model",
            str(repo / "gan" / "1"),
            "--signature_def",
            "serving_default",
            "--output",
            str(tmp_path / "gan.onnx"),
        ],
        cwd=tmp_path,
    )
    session = ort.InferenceSession(
        str(tmp_path / "gan.onnx"), providers=["CPUExecutionProvider"]
    )
    assert [i.name for i in session.get_inputs()] == ["z"]
    assert [o.name for o in session.get_outputs()] == ["images"]
    z = latents()
    (onnx_images,) = session.run(None, {"z": z})
    tf_images = loaded["gan"].signatures["serving_default"](z=tf.constant(z))["images"]
    assert onnx_images.dtype == np.uint8
    assert max_step(onnx_images, tf_images) <= 1

    # Before the uint8 rounding: the float generator, converted in-process.
    model, _ = tf2onnx.convert.from_keras(
        gan.generator, input_signature=[tf.TensorSpec((None, GAN_LATENT), tf.float32)]
    )
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (onnx_float,) = session.run(None, {session.get_inputs()[0].name: z})
    tf_float = gan.generator(z, training=False).numpy()
    assert np.abs(onnx_float - tf_float).max() < 1e-4


def tflite_interpreter(content: bytes):
    """LiteRT's interpreter if installed; tf.lite's (deprecated) otherwise."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation
        return Interpreter(model_content=content)


def test_tflite_matches_tensorflow(repo, loaded, gan):
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(repo / "gan" / "1"), signature_keys=["serving_default"]
    )
    runner = tflite_interpreter(converter.convert()).get_signature_runner(
        "serving_default"
    )
    z = latents()
    lite_images = runner(z=z)["images"]
    tf_images = loaded["gan"].signatures["serving_default"](z=tf.constant(z))["images"]
    assert lite_images.dtype == np.uint8 and lite_images.shape == tf_images.shape
    assert max_step(lite_images, tf_images) <= 1

    content = tf.lite.TFLiteConverter.from_keras_model(gan.generator).convert()
    runner = tflite_interpreter(content).get_signature_runner()
    (lite_float,) = runner(z=z).values()
    assert np.abs(lite_float - gan.generator(z, training=False).numpy()).max() < 1e-4
