"""Correctness parts of benchmarks/train_throughput.py that need no timing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


flops = _load("flops")


def test_flop_counter_on_a_hand_computed_network():
    x = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, 1, "same")(x)  # 8*8 * 3*3*3 * 4 = 6912 MACs
    h = keras.layers.ReLU()(h)  # not counted
    h = keras.layers.Conv2DTranspose(2, 4, 2, "same")(h)  # 8*8 * 4*4*4 * 2 = 8192
    h = keras.layers.Flatten()(h)
    y = keras.layers.Dense(5)(h)  # 16*16*2 * 5 = 2560
    model = keras.Model(x, y)
    assert flops.model_macs(model) == 6912 + 8192 + 2560
    assert flops.forward_flops(model) == 2 * 17664


def test_step_flop_rules():
    g = build_dcgan_generator(32, latent_dim=16, width=8)
    d = build_dcgan_discriminator(32, width=8)
    assert flops.gan_step_flops(g, d) == 3 * flops.forward_flops(
        g
    ) + 8 * flops.forward_flops(d)
    e, dec = build_vae_encoder(32, 8, 8), build_vae_decoder(32, 8, 8)
    assert flops.vae_step_flops(e, dec) == 3 * (
        flops.forward_flops(e) + flops.forward_flops(dec)
    )
    # Spectral normalisation wraps the conv; its MACs are still counted.
    d_sn = build_dcgan_discriminator(32, width=8, spectral_norm=True)
    assert flops.model_macs(d_sn) == flops.model_macs(d)


@pytest.mark.parametrize("size", [32, 64])
def test_torch_twins_match_the_keras_networks(size):
    torch = pytest.importorskip("torch")
    ref = _load("torch_reference")
    width, latent = 8, 16
    pairs = [
        (
            build_dcgan_generator(size, latent, width),
            ref.dcgan_generator(size, latent, width),
            np.zeros((2, latent), "float32"),
        ),
        (
            build_dcgan_discriminator(size, width),
            ref.dcgan_discriminator(size, width),
            np.zeros((2, size, size, 3), "float32"),
        ),
        (
            build_vae_encoder(size, latent, width),
            ref.VAEEncoder(size, latent, width),
            np.zeros((2, size, size, 3), "float32"),
        ),
        (
            build_vae_decoder(size, latent, width),
            ref.vae_decoder(size, latent, width),
            np.zeros((2, latent), "float32"),
        ),
    ]
    for k_model, t_model, x in pairs:
        assert k_model.count_params() == ref.count_params(t_model), k_model.name
        t_x = torch.from_numpy(x)
        if x.ndim == 4:
            t_x = t_x.permute(0, 3, 1, 2)
        assert flops.model_macs(k_model) == ref.forward_macs(t_model, t_x)
        k_out = keras.tree.flatten(k_model(x))
        with torch.no_grad():
            t_out = t_model.eval()(t_x)
        t_out = t_out if isinstance(t_out, tuple) else (t_out,)
        for k, t in zip(k_out, t_out, strict=True):
            t_shape = tuple(t.permute(0, 2, 3, 1).shape if t.ndim == 4 else t.shape)
            assert tuple(k.shape) == t_shape


def test_torch_steps_run():
    torch = pytest.importorskip("torch")
    ref = _load("torch_reference")
    torch.manual_seed(0)
    gan = ref.TorchGAN(32, 16, 8, 2e-4, 0.5)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    d_loss, g_loss = gan.step(real)
    assert np.isfinite([d_loss, g_loss]).all()
    # The discriminator's weights take gradients again after the G update.
    assert all(p.requires_grad for p in gan.discriminator.parameters())
    vae = ref.TorchVAE(32, 8, 8, 1e-3, 0.9)
    assert np.isfinite(vae.step(torch.rand(4, 3, 32, 32)))


def test_conv_key_pairs_a_transposed_convolution_with_its_mirror():
    bench = _load("train_throughput")
    conv = "mb64_ic128oc256_ih16oh8kh4sh2dh0ph1_iw16ow8kw4sw2dw0pw1"
    deconv = "mb64_ic256oc128_ih8oh16kh4sh2dh0ph1_iw8ow16kw4sw2dw0pw1"
    assert bench._conv_key(conv) == "conv 128->256 ch, 16->8 px"
    assert bench._conv_key(deconv) == bench._conv_key(conv)
    other = "mb64_ic64oc128_ih32oh16kh4sh2dh0ph1_iw32ow16kw4sw2dw0pw1"
    assert bench._conv_key(other) != bench._conv_key(conv)


def test_onednn_times_from_a_real_verbose_log():
    """TF's own verbose lines: a conv and the transposed conv mirroring it."""
    bench = _load("train_throughput")
    code = (
        "import tensorflow as tf\n"
        "x = tf.random.normal((2, 8, 8, 4))\n"
        "w = tf.random.normal((4, 4, 4, 6))\n"
        "y = tf.nn.conv2d(x, w, 2, 'SAME')\n"
        "z = tf.nn.conv2d_transpose(y, w, (2, 8, 8, 4), 2, 'SAME')\n"
        "print('done', float(tf.reduce_sum(z)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    if not any(",exec," in line for line in lines):
        pytest.skip("this TF build does not run its convolutions through oneDNN")
    if not any(",exec," in line and "convolution," in line for line in lines):
        # E.g. AMD EPYC without AVX-512: oneDNN lowers these small convolutions
        # to gemm_api calls, which name no convolution to attribute times to.
        pytest.skip("oneDNN ran the convolutions as plain GEMMs on this CPU")
    times = bench.onednn_times(lines, steps=2)
    key = "conv 4->6 ch, 8->4 px"
    # Forward conv + its transpose (backward-data), both under one key,
    # counted per step (2 steps given, 2 primitives run).
    assert times[key]["calls"] == pytest.approx(1.0)
    assert times[key]["ms"] > 0
    assert sum(v["ms"] for v in times.values()) == pytest.approx(
        sum(float(x.split(",")[-1]) for x in lines if ",exec," in x) / 2
    )


def test_variants_pair_each_precision_with_pytorchs_own_settings():
    bench = _load("train_throughput")
    cpu = bench.variants(["float32", "mixed_bfloat16"], compile_torch=True)
    labels = [v["label"] for v in cpu]
    assert labels[0] == "keras-gen float32" and labels[5] == "keras-gen mixed_bfloat16"
    torch_bf16 = [v for v in cpu if v["framework"] == "torch" and "bf16" in v["label"]]
    assert len(torch_bf16) == 4  # NCHW / channels_last, eager / compiled
    assert all("--autocast=bfloat16" in v["flags"] for v in torch_bf16)
    assert all(v["precision"] == "mixed_bfloat16" for v in torch_bf16)
    assert not any("--autocast" in f for v in cpu[:5] for f in v["flags"])
    eager = bench.variants(["float32"], compile_torch=False)
    assert [v["label"] for v in eager] == [
        "keras-gen float32",
        "PyTorch f32 NCHW",
        "PyTorch f32 channels_last",
    ]
    gpu = bench.variants(["mixed_float16"], compile_torch=False, device="gpu")
    assert "--device=gpu" in gpu[0]["flags"]
    assert all(
        {"--autocast=float16", "--device=cuda"} <= set(v["flags"]) for v in gpu[1:]
    )


def test_ratios_take_the_fastest_pytorch_variant_of_the_same_precision():
    bench = _load("train_throughput")
    rows = [
        {
            "label": "k32",
            "framework": "keras",
            "precision": "float32",
            "images_per_s": 90,
        },
        {
            "label": "t32a",
            "framework": "torch",
            "precision": "float32",
            "images_per_s": 80,
        },
        {
            "label": "t32b",
            "framework": "torch",
            "precision": "float32",
            "images_per_s": 100,
        },
        {
            "label": "kbf",
            "framework": "keras",
            "precision": "mixed_bfloat16",
            "images_per_s": 150,
        },
        # Faster than every bf16 variant but float32: never bf16's reference.
        {
            "label": "tbf",
            "framework": "torch",
            "precision": "mixed_bfloat16",
            "images_per_s": 120,
        },
    ]
    ratios = {r["precision"]: r for r in bench.best_ratios(rows)}
    assert ratios["float32"]["best_torch"] == "t32b"
    assert ratios["float32"]["ratio"] == pytest.approx(0.9)
    assert ratios["mixed_bfloat16"]["best_torch"] == "tbf"
    assert ratios["mixed_bfloat16"]["ratio"] == pytest.approx(1.25)


def test_torch_variants_train_in_their_layout_and_precision():
    torch = pytest.importorskip("torch")
    ref = _load("torch_reference")
    variant = ref.Variant("channels_last", "bfloat16")
    assert variant.label == "PyTorch bf16 autocast channels_last"
    torch.manual_seed(0)
    gan = ref.TorchGAN(32, 16, 8, 2e-4, 0.5, variant)
    real = variant.tensor(torch.rand(4, 3, 32, 32) * 2 - 1)
    assert real.is_contiguous(memory_format=torch.channels_last)
    before = [p.detach().clone() for p in gan.discriminator.parameters()]
    assert np.isfinite(gan.step(real)).all()
    # Weights stay float32 (autocast computes in bf16) and were updated.
    params = list(gan.discriminator.parameters())
    assert all(p.dtype == torch.float32 for p in params)
    assert any(not torch.equal(a, b) for a, b in zip(before, params))
    with variant.autocast_context():
        assert gan.d_net(real).dtype == torch.bfloat16
    vae = ref.TorchVAE(32, 8, 8, 1e-3, 0.9, variant)
    assert np.isfinite(vae.step(variant.tensor(torch.rand(4, 3, 32, 32))))
    with pytest.raises(ValueError, match="memory_format"):
        ref.Variant("nhwc")
