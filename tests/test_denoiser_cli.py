"""End to end: `model.type: dae` trained by `keras-gen train`, served and used."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from tests.test_cli import KERAS_GEN, ROOT, run


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dae")
    config = ROOT / "training" / "configs" / "smoke_dae.yaml"
    proc = run([str(KERAS_GEN), "train", str(config)], cwd=tmp)
    rng = np.random.default_rng(0)
    src = tmp / "photos"
    src.mkdir()
    for i, shape in enumerate([(32, 32), (45, 70)]):
        image = rng.integers(0, 255, (*shape, 3), dtype=np.uint8)
        Image.fromarray(image).save(src / f"img{i}.png")
    return tmp, proc


def test_a_dae_run_logs_psnr_grids_and_tensorboard_images(dae_run):
    tmp, proc = dae_run
    work = tmp / "runs" / "smoke_dae"
    rows = list(csv.DictReader((work / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for key in ("loss", "psnr", "val_loss", "val_psnr"):
        assert all(np.isfinite(float(r[key])) for r in rows), key
    with Image.open(work / "samples" / "denoised_epoch_002.png") as im:
        # noisy / denoised / clean rows of 8 validation rooms, doubled.
        assert im.size[0] > 8 * 64 and 3 * 64 <= im.size[1] < 4 * 64
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    events = EventAccumulator(str(work / "logs" / "samples"))
    events.Reload()
    assert "denoised" in events.Tags()["tensors"]
    # TensorFlow's start-up lines are not shown by default.
    assert "oneDNN" not in proc.stderr and "absl" not in proc.stderr


def test_the_export_denoises_any_size_like_the_keras_model(dae_run):
    import tensorflow as tf

    from keras_gen.inference import load_keras

    tmp, _ = dae_run
    loaded = tf.saved_model.load(str(tmp / "saved_models" / "smoke_dae" / "1"))
    assert set(loaded.signatures) == {"serving_default", "denoise"}
    images = np.random.default_rng(1).integers(0, 255, (2, 33, 47, 3), np.uint8)
    served = loaded.signatures["denoise"](images=tf.constant(images))["images"]
    assert served.dtype == tf.uint8 and served.shape == (2, 33, 47, 3)
    even = images[:, :32, :46]
    served = loaded.signatures["denoise"](images=tf.constant(even))["images"]
    model = load_keras(tmp / "runs" / "smoke_dae")
    direct = np.asarray(model.denoise(even.astype(np.float32) / 255.0))
    expected = np.round(np.clip(direct, 0, 1) * 255)
    # The export computes in float32; a bfloat16-trained model may not.
    assert np.mean(np.abs(served.numpy() - expected)) < 2.0
    empty = loaded.signatures["denoise"](images=tf.zeros((0, 8, 8, 3), tf.uint8))
    assert empty["images"].shape == (0, 8, 8, 3)


def test_denoise_takes_the_run_folder_and_the_savedmodel(dae_run):
    tmp, _ = dae_run
    outputs = {}
    for name, model in (
        ("run", tmp / "runs" / "smoke_dae"),
        ("saved", tmp / "saved_models" / "smoke_dae"),
    ):
        args = [str(KERAS_GEN), "denoise", str(model), "photos", "--out", name]
        report = tmp / f"{name}.json"
        proc = run([*args, "--add-noise", "0.1", "--report", str(report)], cwd=tmp)
        assert "PSNR noisy" in proc.stdout
        figures = json.loads(report.read_text())
        assert figures["images"] == 2 and figures["sigma"] == 0.1
        assert 10 < figures["psnr_noisy"] < 30 and np.isfinite(figures["psnr"])
        with Image.open(tmp / name / "img1.png") as im:
            assert im.size == (70, 45)
            outputs[name] = np.asarray(im, np.float32)
    assert np.mean(np.abs(outputs["run"] - outputs["saved"])) < 2.0


def test_generating_commands_refuse_a_denoiser_naming_it(dae_run, capsys):
    from keras_gen import cli

    tmp, _ = dae_run
    model, out = str(tmp / "runs" / "smoke_dae"), str(tmp / "x.png")
    # In-process: three subprocesses cost ~20 s of TensorFlow imports.
    for command in (
        ["sample", model, "--out", out],
        ["interpolate", model, "--out", out],
        ["evaluate", model, "--data", "rooms:16", "--num", "8"],
    ):
        assert cli.main(command) == 2, command
        err = capsys.readouterr().err
        assert "DenoisingAutoencoder" in err, command
        assert "keras-gen denoise" in err, command
    assert not (tmp / "x.png").exists()


def test_a_dae_denoises_odd_sizes_through_a_strided_unet():
    from keras_gen.models.vae.dae import DenoisingAutoencoder, build_dae_unet

    net = build_dae_unet(width=4, depth=1, levels=2)
    dae = DenoisingAutoencoder(net, {"noise": "gaussian", "sigma": 0.1}, seed=0)
    images = np.random.default_rng(0).random((2, 37, 50, 3)).astype(np.float32)
    out = np.asarray(dae.denoise(images))
    assert out.shape == images.shape
    # Mirror-padded to 40 x 52, cropped back: the crop is the top-left part.
    padded = np.pad(images, ((0, 0), (0, 3), (0, 2), (0, 0)), mode="symmetric")
    full = padded - np.asarray(net(padded))
    np.testing.assert_allclose(out, np.clip(full[:, :37, :50], 0, 1), atol=1e-5)


def test_quiet_and_verbose(dae_run):
    tmp, _ = dae_run
    args = ["denoise", "runs/smoke_dae", "photos", "--out", "q"]
    quiet = run([str(KERAS_GEN), "-q", *args], cwd=tmp)
    assert quiet.stdout == "" and (tmp / "q" / "img0.png").is_file()
    # After the subcommand as well; -v shows TensorFlow's own log lines.
    # Even where the environment silences TensorFlow (as the benchmark
    # modules other tests import do): -v is the explicit request.
    verbose = run(
        [str(KERAS_GEN), *args, "-v"], cwd=tmp, env={"TF_CPP_MIN_LOG_LEVEL": "2"}
    )
    assert "[keras-gen] denoised 2 image(s)" in verbose.stdout
    assert "absl" in verbose.stderr or "I0000" in verbose.stderr
