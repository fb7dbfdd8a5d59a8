"""The streaming driver and `keras-gen evaluate`, end to end on tiny models."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from keras_gen.cli import main
from keras_gen.data.rooms import render_rooms
from keras_gen.evaluation.evaluate import (
    DEFAULT_ROOMS_SEED,
    VAEStats,
    array_source,
    evaluate,
    generated_source,
    parse_metrics,
    real_source,
)
from keras_gen.evaluation.metrics import psnr
from keras_gen.models.vae.vae import kl_divergence
from tests.evaluation.helpers import add_noise, blur
from tests.models.gan.test_gan import tiny_gan
from tests.models.vae.test_vae import tiny_vae

SET_METRICS = ("fid", "kid", "swd", "pr")


def compare_arrays(real, fake, **kwargs):
    kwargs.setdefault("metrics", SET_METRICS)
    result = evaluate(
        array_source(real), array_source(fake), num=len(real), batch_size=32, **kwargs
    )
    return result["model"]


def test_identical_sets_give_zero_and_distances_grow_with_noise_and_blur(rooms32):
    real = rooms32[:64]
    same = compare_arrays(real, real)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    noisy = [compare_arrays(real, add_noise(real, s)) for s in (8, 24, 64)]
    blurred = [compare_arrays(real, blur(real, s)) for s in (0.7, 1.5, 3.0)]
    for series in (noisy, blurred):
        for key in ("fid", "swd_mean"):
            values = [same[key]] + [r[key] for r in series]
            assert values == sorted(values) and values[1] > 0, (key, values)
        # KID of a set with itself is -2/n (mean diagonal - mean off-diagonal
        # kernel): ~0, and small against a clear perturbation.
        kid = [r["kid_mean"] for r in series]
        assert kid[1:] == sorted(kid[1:]) and kid[-1] > 0, kid
        assert abs(same["kid_mean"]) < 0.2 * kid[-1]
    # Strong noise leaves the real manifold (precision drops); strong blur
    # collapses images towards their means (recall drops).
    assert noisy[-1]["precision"] < 0.5 and blurred[-1]["recall"] < 0.6
    assert same["swd_mean"] < 0.6 * min(noisy[0]["swd_mean"], blurred[0]["swd_mean"])


def test_results_do_not_depend_on_the_batch_size(rooms32):
    real, fake = rooms32[:50], add_noise(rooms32[50:96], 10)
    results = [
        evaluate(
            array_source(real),
            array_source(fake),
            num=46,
            metrics=("fid", "kid", "pr"),
            batch_size=b,
        )["model"]
        for b in (7, 46)
    ]
    for key in ("fid", "kid_mean", "precision", "recall"):
        assert results[0][key] == pytest.approx(results[1][key], rel=1e-4, abs=1e-7)


def test_real_vs_real_compares_disjoint_halves(rooms32):
    half = rooms32[:40]
    # The second half repeats the first: the floor must then be exactly 0.
    doubled = evaluate(
        array_source(np.concatenate([half, half])),
        None,
        num=40,
        metrics=SET_METRICS,
        real_vs_real=True,
    )
    assert "model" not in doubled
    floor = doubled["real_vs_real"]
    assert floor["fid"] == pytest.approx(0.0, abs=1e-6)
    assert floor["precision"] == floor["recall"] == 1.0
    # Too few images for two halves of 60: 48 each, with a warning.
    with pytest.warns(RuntimeWarning, match="using 48 per set"):
        result = evaluate(
            array_source(rooms32),
            array_source(blur(rooms32, 3.0)),
            num=60,
            metrics=("fid",),
            real_vs_real=True,
        )
    assert result["num_images"] == 48
    assert 0 < result["real_vs_real"]["fid"] < result["model"]["fid"]


def test_rooms_spec_renders_evaluation_rooms():
    source = real_source("rooms:10:5", 32)
    images = np.concatenate(list(source.batches(10, 4)))
    np.testing.assert_array_equal(images, render_rooms(10, 32, seed=5, workers=1)[0])
    assert source.available == 10
    default = real_source("rooms", 32)
    assert default.available is None
    assert f"seed={DEFAULT_ROOMS_SEED}" in default.description
    assert DEFAULT_ROOMS_SEED != 0  # not the training rooms
    for bad in ("rooms:x", "rooms:0", "rooms:1:2:3"):
        with pytest.raises(ValueError, match="rooms spec"):
            real_source(bad, 32)
    with pytest.raises(FileNotFoundError, match="neither"):
        real_source("/nonexistent/folder", 32)
    assert parse_metrics("FID, precision,swd") == ["fid", "pr", "swd"]
    with pytest.raises(ValueError, match="unknown metrics"):
        parse_metrics("fid,is")


def write_pngs(images, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    return folder


def test_folder_source_streams_the_images_in_file_order(tmp_path, rooms32):
    folder = write_pngs(rooms32[:10], tmp_path / "photos")
    source = real_source(str(folder), 32)
    assert source.available == 10
    images = np.concatenate(list(source.batches(7, 3)))
    assert images.dtype == np.uint8 and images.shape == (7, 32, 32, 3)
    # Same size: the resize is (within rounding) the identity.
    assert np.abs(images.astype(int) - rooms32[:7]).max() <= 1


def test_generated_images_match_generate_uint8_and_prefer_the_ema_generator():
    gan = tiny_gan()
    source = generated_source(gan, seed=3)
    images = np.concatenate(list(source.batches(10, 4)))
    expected = gan.generate_uint8(10, seed=3)
    assert np.abs(images.astype(int) - expected).max() <= 1
    assert source.image_size == 32 and "EMA" not in source.description
    # An "EMA generator" that paints every pixel at 0.5 (uint8 191).
    gan.ema_generator = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(32 * 32 * 3, kernel_initializer="zeros"),
            keras.layers.Reshape((32, 32, 3)),
            keras.layers.Lambda(lambda x: x + 0.5),
        ]
    )
    source = generated_source(gan, seed=3)
    assert "EMA generator" in source.description
    ema = np.concatenate(list(source.batches(10, 4)))
    assert ema.shape == (10, 32, 32, 3) and np.all(ema == 191)


def test_vae_metrics_match_a_direct_computation(rooms32):
    vae = tiny_vae(likelihood="gaussian")
    stats = VAEStats(vae, seed=0)
    stats.update(rooms32[:6])
    stats.update(rooms32[6:10])
    values = stats.result()
    x = rooms32[:10].astype(np.float32) / 255.0
    recon = np.asarray(vae.reconstruct(x))
    assert values["psnr"] == pytest.approx(psnr(x, recon).mean(), rel=1e-4)
    z_mean, z_log_var = vae.encode(x)
    kl = np.asarray(kl_divergence(z_mean, z_log_var)).mean()
    dims = 32 * 32 * 3
    assert values["kl_bpd"] == pytest.approx(kl / (dims * np.log(2)), rel=1e-4)
    assert values["nelbo_bpd"] == pytest.approx(
        values["recon_bpd"] + values["kl_bpd"], rel=1e-9
    )
    assert values["nelbo_bpd_8bit"] == pytest.approx(values["nelbo_bpd"] + np.log2(255))
    assert 0.0 < values["ssim"] < 1.0


# --------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def saved_gan(tmp_path_factory):
    path = tmp_path_factory.mktemp("gan") / "tiny_gan.keras"
    gan = tiny_gan()
    gan.compile()
    gan.save(path)
    return path


def test_cli_evaluate_writes_a_table_and_json_next_to_the_model(saved_gan, capsys):
    code = main(
        [
            "evaluate",
            str(saved_gan),
            "--data",
            "rooms:80",
            "--num",
            "24",
            "--real-vs-real",
            "--kid-subsets",
            "3",
            "--kid-subset-size",
            "12",
            "--batch-size",
            "10",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "real vs real (floor)" in out and "NOT with published" in out
    result = json.loads(saved_gan.with_name("tiny_gan_eval.json").read_text())
    assert result["num_images"] == 24 and result["image_size"] == 32
    assert result["set_sizes"] == {"real": 24, "real_second_half": 24, "generated": 24}
    for part in ("model", "real_vs_real"):
        assert set(result[part]) >= {
            "fid",
            "kid_mean",
            "kid_std",
            "swd_32",
            "swd_16",
            "swd_mean",
            "precision",
            "recall",
        }
    # An untrained generator is far from real rooms; two halves of rooms are not.
    assert result["model"]["fid"] > 3 * result["real_vs_real"]["fid"]
    assert result["features"]["comparable_with_published"] is False
    assert result["wall_time_s"] > 0 and result["args"]["num"] == 24
    assert "seed=1000" in result["real"]


def test_cli_evaluate_vae_on_a_folder(tmp_path, rooms32, capsys):
    vae = tiny_vae()
    vae.compile(optimizer="adam")
    model = tmp_path / "vae.keras"
    vae.save(model)
    folder = write_pngs(rooms32[:30], tmp_path / "photos")
    out_json = tmp_path / "out" / "vae.json"
    code = main(
        ["evaluate", str(model), "--data", str(folder), "--num", "30"]
        + ["--metrics", "fid,vae", "--out", str(out_json)]
    )
    assert code == 0
    result = json.loads(out_json.read_text())
    assert set(result["vae"]) >= {"psnr", "ssim", "nelbo_bpd"}
    assert "Bernoulli" in " ".join(result["notes"])
    assert result["model"]["fid"] > 0 and "real_vs_real" not in result


def test_cli_floor_only_and_errors(tmp_path, saved_gan, capsys, monkeypatch):
    out_json = tmp_path / "floor.json"
    code = main(
        ["evaluate", "--real-vs-real", "--image-size", "32", "--data", "rooms:40"]
        + ["--num", "20", "--metrics", "fid", "--out", str(out_json)]
    )
    assert code == 0
    assert json.loads(out_json.read_text())["real_vs_real"]["fid"] > 0
    monkeypatch.delenv("KERAS_GEN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    code = main(
        ["evaluate", str(saved_gan), "--data", "rooms", "--features", "inception"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in err
    assert main(["evaluate", "--data", "rooms"]) == 2


def test_no_ema_evaluates_the_trained_generator():
    from keras_gen.evaluation.evaluate import evaluate_model
    from keras_gen.models import GAN
    from keras_gen.models.gan.dcgan import (
        build_dcgan_discriminator,
        build_dcgan_generator,
    )

    def model():
        return GAN(
            build_dcgan_generator(32, 8, 4, seed=0),
            build_dcgan_discriminator(32, 4, seed=1),
            ema_decay=0.9,
        )

    ema = evaluate_model(model(), "rooms:16", num=8, metrics="fid")
    raw = evaluate_model(model(), "rooms:16", num=8, metrics="fid", use_ema=False)
    assert "EMA generator" in ema["generated"]
    assert "EMA" not in raw["generated"]
