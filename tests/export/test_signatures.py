"""The exported signatures are exactly the documented contract.

`saved_model_cli` (TensorFlow's own tool, a separate process) is the judge of
what a model server sees: names, dtypes and shapes of every input and output.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen.export import export_generator, signature_names
from keras_gen.models import GAN
from keras_gen.models.gan.dcgan import build_dcgan_discriminator
from tests.export.conftest import (
    BIN,
    GAN_LATENT,
    SIZE,
    VAE_LATENT,
    run,
    test_images,
    tiny_vae,
)

IMAGES = ("DT_UINT8", (-1, SIZE, SIZE, 3))
ANY_IMAGES = ("DT_UINT8", (-1, -1, -1, -1))
SEED = {"seed": ("DT_INT64", (-1,))}


def z(latent):
    return {"z": ("DT_FLOAT", (-1, latent))}


# The public contract, written out by hand (README "Serving" section).
EXPECTED = {
    "gan": {
        "serving_default": (z(GAN_LATENT), {"images": IMAGES}),
        "generate": (SEED, {"images": IMAGES}),
        "generate_png": (SEED, {"png_bytes": ("DT_STRING", (-1,))}),
    },
    "vae": {
        "serving_default": (z(VAE_LATENT), {"images": IMAGES}),
        "decode": (z(VAE_LATENT), {"images": IMAGES}),
        "generate": (SEED, {"images": IMAGES}),
        "generate_png": (SEED, {"png_bytes": ("DT_STRING", (-1,))}),
        "encode": (
            {"images": ANY_IMAGES},
            {
                "z_mean": ("DT_FLOAT", (-1, VAE_LATENT)),
                "z_log_var": ("DT_FLOAT", (-1, VAE_LATENT)),
            },
        ),
        "reconstruct": ({"images": ANY_IMAGES}, {"images": IMAGES}),
        "anomaly_score": (
            {"images": ANY_IMAGES},
            {"score": ("DT_FLOAT", (-1,)), "is_anomaly": ("DT_BOOL", (-1,))},
        ),
    },
}

_TENSOR = re.compile(
    r"(inputs|outputs)\['([^']+)'\] tensor_info:\s+dtype: (\w+)\s+"
    r"shape: (\([^)]*\)|unknown_rank)"
)


def parse_show_all(text: str) -> dict:
    """`saved_model_cli show --all` -> {signature: (inputs, outputs, method)}."""
    text = text.split("Concrete Functions:")[0]
    signatures = {}
    for block in text.split("signature_def['")[1:]:
        name = block.split("'", 1)[0]
        tensors = {"inputs": {}, "outputs": {}}
        for kind, key, dtype, shape in _TENSOR.findall(block):
            dims = tuple(int(d) for d in re.findall(r"-?\d+", shape))
            tensors[kind][key] = (dtype, dims)
        method = re.search(r"Method name is: (\S*)", block).group(1)
        signatures[name] = (tensors["inputs"], tensors["outputs"], method)
    return signatures


def test_saved_model_cli_shows_exactly_the_documented_signatures(repo, tmp_path):
    # One shell, two `saved_model_cli` runs: one process start for the test.
    cli = BIN / "saved_model_cli"
    proc = run(
        [
            "sh",
            "-c",
            f"{cli} show --dir {repo / 'gan' / '1'} --all && echo @@@@ && "
            f"{cli} show --dir {repo / 'vae' / '1'} --all",
        ],
        cwd=tmp_path,
    )
    shown = dict(zip(("gan", "vae"), proc.stdout.split("@@@@")))
    for kind, text in shown.items():
        signatures = parse_show_all(text)
        # TF's own initialisation entry is in every SavedModel; servers skip it.
        signatures.pop("__saved_model_init_op")
        assert set(signatures) == set(EXPECTED[kind]), kind
        for name, (inputs, outputs, method) in signatures.items():
            assert (inputs, outputs) == EXPECTED[kind][name], (kind, name)
            assert method == "tensorflow/serving/predict"


def test_loaded_signatures_match_signature_names(loaded, gan, vae):
    assert set(loaded["gan"].signatures) == set(signature_names(gan))
    assert set(loaded["vae"].signatures) == set(signature_names(vae))


def test_denoise_when_trained_for_it_and_threshold_optional(tmp_path):
    # (The repository's VAE, not trained for denoising, has no `denoise`:
    # see EXPECTED above.)
    vae = tiny_vae()
    vae.denoising = True
    loaded = tf.saved_model.load(str(export_generator(vae, tmp_path, "denoising")))
    assert "denoise" in loaded.signatures
    # Without a threshold, anomaly_score gives the score alone.
    assert set(loaded.signatures["anomaly_score"].structured_outputs) == {"score"}
    x = tf.constant(np.full((2, SIZE, SIZE, 3), 90, np.uint8))
    np.testing.assert_array_equal(
        loaded.signatures["denoise"](images=x)["images"],
        loaded.signatures["reconstruct"](images=x)["images"],
    )


def test_anomaly_threshold_is_for_vaes_only(gan, tmp_path):
    with pytest.raises(ValueError, match="VAEs only"):
        export_generator(gan, tmp_path, "g", anomaly_threshold=1.0)


def conditional_gan(num_classes=3) -> GAN:
    z_in = keras.Input((GAN_LATENT,), name="z")
    label = keras.Input((), dtype="int64", name="label")
    x = keras.layers.Concatenate()(
        [z_in, keras.layers.Embedding(num_classes, GAN_LATENT)(label)]
    )
    x = keras.layers.Dense(SIZE * SIZE * 3, activation="tanh")(x)
    generator = keras.Model([z_in, label], keras.layers.Reshape((SIZE, SIZE, 3))(x))
    return GAN(
        generator, build_dcgan_discriminator(SIZE, width=8), num_classes=num_classes
    )


def test_conditional_model_adds_a_label_input(tmp_path):
    loaded = tf.saved_model.load(
        str(export_generator(conditional_gan(), tmp_path, "c"))
    )
    for name in ("serving_default", "generate", "generate_png"):
        _, inputs = loaded.signatures[name].structured_input_signature
        assert inputs["label"] == tf.TensorSpec((None,), tf.int64, name="label")
    generate = loaded.signatures["generate"]
    seeds = tf.constant([5, 5], tf.int64)
    images = generate(seed=seeds, label=tf.constant([0, 2], tf.int64))["images"]
    assert not np.array_equal(images[0], images[1])  # same seed, other class
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes"):
        generate(seed=seeds, label=tf.constant([0, 3], tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one class id"):
        generate(seed=seeds, label=tf.constant([0], tf.int64))


def test_anomaly_score_uses_the_learned_sigma(tmp_path):
    vae = tiny_vae(likelihood="gaussian", learned_sigma="channel")
    vae.log_sigma.assign(np.log([0.05, 0.2, 0.4]).astype("float32"))
    loaded = tf.saved_model.load(str(export_generator(vae, tmp_path, "sigma")))
    x = test_images(3)
    exported = loaded.signatures["anomaly_score"](images=tf.constant(x))["score"]
    expected = vae.negative_elbo(x.astype("float32") / 255.0)
    np.testing.assert_allclose(exported, expected, rtol=1e-4)


def test_requests_that_would_exhaust_a_server_are_refused(
    loaded, gan, vae, tmp_path, monkeypatch
):
    generate = loaded["gan"].signatures["generate"]
    # The default limit: 1,025 seeds are refused before anything is decoded.
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 1024 inputs"):
        generate(seed=tf.range(1025, dtype=tf.int64))
    # NaN latents used to come back as flat grey images.
    bad = np.zeros((2, int(gan.latent_dim)), np.float32)
    bad[1, 3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be finite"):
        loaded["gan"].signatures["serving_default"](z=tf.constant(bad))
    # Huge images are refused by the VAE's image signatures, not resized
    # (the limit lowered here to keep the test small).
    import keras_gen.export.signatures as export_module

    monkeypatch.setattr(export_module, "MAX_PIXELS", 50 * 50)
    encode = tf.saved_model.load(
        str(export_generator(vae, tmp_path, "vae_small"))
    ).signatures["encode"]
    assert encode(images=tf.zeros([1, 40, 60, 3], tf.uint8))["z_mean"].shape[0] == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="pixels are refused"):
        encode(images=tf.zeros([1, 60, 60, 3], tf.uint8))
    # A smaller limit at export.
    path = export_generator(gan, tmp_path, "small", max_batch=4)
    small = tf.saved_model.load(str(path)).signatures["generate"]
    assert small(seed=tf.range(4, dtype=tf.int64))["images"].shape[0] == 4
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 4 inputs"):
        small(seed=tf.range(5, dtype=tf.int64))
