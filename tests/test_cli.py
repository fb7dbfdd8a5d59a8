"""End to end: `keras-gen train` on the smoke configs, then `keras-gen sample`."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).parents[1]
KERAS_GEN = Path(sys.executable).with_name("keras-gen")


def run(args, cwd, check=True, env=None):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", **(env or {}))
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module", params=["gan", "vae"])
def trained(request, tmp_path_factory):
    """A smoke run through the installed console script, in a scratch folder."""
    tmp = tmp_path_factory.mktemp(request.param)
    config = ROOT / "training" / "configs" / f"smoke_{request.param}.yaml"
    proc = run([str(KERAS_GEN), "train", str(config)], cwd=tmp)
    return request.param, tmp, proc.stdout


def test_train_writes_every_artefact(trained):
    kind, tmp, stdout = trained
    work = tmp / "runs" / f"smoke_{kind}"
    for epoch in (1, 2):
        grid = work / "samples" / f"samples_epoch_{epoch:03d}.png"
        assert grid.is_file()
        with Image.open(grid) as im:
            # 16 samples of 32px, doubled, on a 4x4 grid with padding.
            assert im.size[0] >= 4 * 64 and im.size[0] == im.size[1]
    rows = list(csv.DictReader((work / "metrics.csv").open()))
    if kind == "vae":
        assert (work / "samples" / "reconstructions_epoch_002.png").is_file()
        # Per epoch: active units on the validation rooms, validation ELBO.
        for key in ("active_units", "val_nelbo_bits_per_dim", "kl_loss"):
            assert all(np.isfinite(float(r[key])) for r in rows), key
        assert all(0 <= float(r["active_units"]) <= 8 for r in rows)
    # Epochs count from 1, as the grids do; no always-empty val_* columns.
    assert [r["epoch"] for r in rows] == ["1", "2"]
    if kind == "gan":
        assert not [k for k in rows[0] if k.startswith("val_")]
    loss_key = "d_loss" if kind == "gan" else "loss"
    assert all(np.isfinite(float(r[loss_key])) for r in rows)
    assert (work / "metrics.png").stat().st_size > 1000
    assert any((work / "logs").rglob("events.out.tfevents.*"))
    assert (work / "model.keras").is_file()
    assert (work / "config.yaml").is_file()
    assert not (work / "backup").exists()  # removed once the run finished
    export = tmp / "saved_models" / f"smoke_{kind}" / "1"
    assert (export / "saved_model.pb").is_file()
    # The summary tells the user where everything went.
    for fragment in (
        "samples_epoch_002.png",
        "metrics.csv",
        "model.keras",
        str(Path("1")),
    ):
        assert fragment in stdout


def _has_bfloat16(saved_model: Path) -> bool:
    import tensorflow as tf

    graph = (
        tf.saved_model.load(str(saved_model))
        .signatures["serving_default"]
        .graph.as_graph_def()
    )
    return "DT_BFLOAT16" in str(graph) + "".join(str(f) for f in graph.library.function)


def test_default_precision_is_resolved_and_exports_are_float32(trained):
    from keras_gen.precision import compute_dtypes, load_model, resolve_precision

    kind, tmp, stdout = trained
    resolved = resolve_precision("auto")
    assert f"auto -> {resolved}" in stdout
    model = load_model(tmp / "runs" / f"smoke_{kind}" / "model.keras")
    assert compute_dtypes(model) == (
        {"bfloat16"} if resolved == "mixed_bfloat16" else set()
    )
    # The training's own export computes in float32; --keep-precision keeps
    # what the model was trained in.
    assert not _has_bfloat16(tmp / "saved_models" / f"smoke_{kind}" / "1")
    run(
        [
            str(KERAS_GEN),
            "export",
            str(tmp / "runs" / f"smoke_{kind}"),
            "--name",
            "kept",
            "--export-dir",
            "kept",
            "--keep-precision",
        ],
        cwd=tmp,
    )
    assert _has_bfloat16(tmp / "kept" / "kept" / "1") == (resolved == "mixed_bfloat16")


def test_export_reloads_and_generates_uint8(trained):
    kind, tmp, _ = trained
    import tensorflow as tf

    loaded = tf.saved_model.load(str(tmp / "saved_models" / f"smoke_{kind}" / "1"))
    signatures = {"serving_default", "generate", "generate_png"}
    if kind == "vae":
        signatures |= {"decode", "encode", "reconstruct", "anomaly_score"}
    assert set(loaded.signatures) == signatures
    latent_dim = 16 if kind == "gan" else 8
    z = tf.random.normal((3, latent_dim))
    images = loaded.signatures["serving_default"](z=z)["images"]
    assert images.dtype == tf.uint8 and images.shape == (3, 32, 32, 3)
    by_seed = loaded.signatures["generate"](seed=tf.constant([7, 7, 8], tf.int64))[
        "images"
    ]
    np.testing.assert_array_equal(by_seed[0], by_seed[1])
    assert not np.array_equal(by_seed[0], by_seed[2])


def test_sample_from_keras_and_savedmodel_agree(trained):
    kind, tmp, _ = trained
    keras_file = tmp / "runs" / f"smoke_{kind}" / "model.keras"
    export = tmp / "saved_models" / f"smoke_{kind}"
    run(
        [
            str(KERAS_GEN),
            "sample",
            str(keras_file),
            "--num",
            "5",
            "--seed",
            "3",
            "--out",
            "a.npz",
        ],
        cwd=tmp,
    )
    run(
        [
            str(KERAS_GEN),
            "sample",
            str(export),
            "--num",
            "5",
            "--seed",
            "3",
            "--out",
            "b.npz",
        ],
        cwd=tmp,
    )
    run(
        [str(KERAS_GEN), "sample", str(export), "--num", "4", "--out", "grid.png"],
        cwd=tmp,
    )
    a, b = np.load(tmp / "a.npz"), np.load(tmp / "b.npz")
    assert a["images"].shape == (5, 32, 32, 3) and a["images"].dtype == np.uint8
    np.testing.assert_array_equal(a["seeds"], np.arange(3, 8))
    # Same seeds, same network: at most a rounding step apart.
    assert np.abs(a["images"].astype(int) - b["images"].astype(int)).max() <= 1
    assert (tmp / "grid.png").is_file()


def _write_pngs(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


def test_denoise_command_any_size_with_triplets(trained):
    kind, tmp, _ = trained
    if kind != "vae":
        pytest.skip("denoising is a VAE/DAE command")
    rng = np.random.default_rng(0)
    src = tmp / "to_denoise"
    src.mkdir()
    for i, shape in enumerate([(32, 32), (45, 70)]):
        Image.fromarray(rng.integers(0, 255, (*shape, 3), dtype=np.uint8)).save(
            src / f"img{i}.png"
        )
    model = tmp / "runs" / "smoke_vae" / "model.keras"
    args = [str(KERAS_GEN), "denoise", str(model), str(src), "--out", "denoised"]
    # The smoke VAE was not trained to denoise: refused, naming what it is.
    refused = run([*args, "--add-noise", "0.1"], cwd=tmp, check=False)
    assert refused.returncode == 2
    assert "trained without model.denoising" in refused.stderr
    assert "--force" in refused.stderr and not (tmp / "denoised").exists()
    proc = run([*args, "--add-noise", "0.1", "--force"], cwd=tmp)
    assert "PSNR noisy" in proc.stdout
    with Image.open(tmp / "denoised" / "img1.png") as im:
        assert im.size == (70, 45)  # any size, via overlapping tiles
    with Image.open(tmp / "denoised" / "img1_triplet.png") as im:
        assert im.size == (3 * 70 + 4, 45)
    bad = run(
        [str(KERAS_GEN), "denoise", str(model), "nope", "--out", "x", "--force"],
        cwd=tmp,
        check=False,
    )
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_anomaly_fit_score_and_export(trained):
    kind, tmp, _ = trained
    if kind != "vae":
        pytest.skip("anomaly detection needs a VAE")
    from keras_gen.data.rooms import render_rooms

    rooms, _ = render_rooms(60, size=32, seed=5)
    _write_pngs(tmp / "normal_val", rooms[:40])
    _write_pngs(tmp / "mixed" / "rooms", rooms[40:])
    noise = np.random.default_rng(0).integers(0, 255, (20, 32, 32, 3), np.uint8)
    _write_pngs(tmp / "mixed" / "noise", noise)
    model = tmp / "runs" / "smoke_vae" / "model.keras"
    proc = run(
        [
            str(KERAS_GEN),
            "anomaly",
            "fit",
            str(model),
            "--data",
            "normal_val",
            "--fpr",
            "0.1",
        ],
        cwd=tmp,
    )
    record = json.loads((model.with_name("model.anomaly.json")).read_text())
    # 40 calibration images at 10%: exactly 4 above the threshold.
    assert record["calibration"]["achieved_fpr"] == pytest.approx(0.1)
    assert "requested 10.00%" in proc.stdout
    proc = run(
        [
            str(KERAS_GEN),
            "anomaly",
            "score",
            str(model),
            "--data",
            "mixed",
            "--out",
            "scores/scores.csv",
            "--normal",
            "rooms",
            "--report",
            "scores/report.json",
        ],
        cwd=tmp,
    )
    rows = list(csv.DictReader((tmp / "scores" / "scores.csv").open()))
    assert len(rows) == 40
    assert set(rows[0]) == {"path", "group", "nelbo", "pixel", "feature", "is_anomaly"}
    assert "noise vs rooms: ROC-AUC" in proc.stdout
    report = json.loads((tmp / "scores" / "report.json").read_text())
    assert report["normal"] == "rooms" and report["score"] == "nelbo"
    assert report["threshold"] == pytest.approx(record["threshold"])
    noise_row, rooms_row = report["groups"]["noise"], report["groups"]["rooms"]
    assert noise_row["images"] == rooms_row["images"] == 20
    # The report holds the printed figures: ROC-AUC for the non-normal group.
    assert f"ROC-AUC {noise_row['roc_auc']:.3f}" in proc.stdout
    assert "roc_auc" not in rooms_row
    flagged = np.mean([r["is_anomaly"] == "1" for r in rows if r["group"] == "noise"])
    assert noise_row["flagged_fraction"] == pytest.approx(flagged)
    for name in ("scores.hist.png", "scores.roc.png"):
        assert (tmp / "scores" / name).stat().st_size > 1000
    proc = run(
        [
            str(KERAS_GEN),
            "export",
            str(model),
            "--name",
            "with_threshold",
            "--export-dir",
            "exported",
        ],
        cwd=tmp,
    )
    assert "anomaly threshold" in proc.stdout
    import tensorflow as tf

    loaded = tf.saved_model.load(str(tmp / "exported" / "with_threshold" / "1"))
    out = loaded.signatures["anomaly_score"](images=tf.constant(noise[:2]))
    assert set(out) == {"score", "is_anomaly"}


def test_bad_config_fails_fast_with_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  type: gan\n  widht: 8\n")
    proc = run([str(KERAS_GEN), "train", str(bad)], cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "model.widht" in proc.stderr and "width" in proc.stderr
    proc = run(
        [
            str(KERAS_GEN),
            "train",
            str(ROOT / "training/configs/smoke_gan.yaml"),
            "--set",
            "model.loss=wasserstein",
        ],
        cwd=tmp_path,
        check=False,
    )
    assert (
        proc.returncode == 2 and "model.loss" in proc.stderr and "hinge" in proc.stderr
    )


def test_python_module_entry_point(tmp_path):
    # `python -m training.train` is the same command as `keras-gen train`.
    proc = run([sys.executable, "-m", "training.train", "--help"], cwd=ROOT, check=True)
    assert "--set" in proc.stdout


def test_divergence_stops_with_a_clear_message(tmp_path):
    proc = run(
        [
            str(KERAS_GEN),
            "train",
            str(ROOT / "training/configs/smoke_vae.yaml"),
            "--set",
            "train.optimizer.name=sgd",
            "--set",
            "train.optimizer.learning_rate=1e6",
            "--set",
            "output.verbose=0",
            "--work-dir",
            str(tmp_path / "run"),
        ],
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    message = proc.stderr.strip().splitlines()[-1]
    assert "training diverged" in message and "step" in message
    assert any(
        name in message for name in ("'loss'", "'kl_loss'", "'reconstruction_loss'")
    )
    # Nothing diverged was exported or saved as the final model.
    assert not (tmp_path / "saved_models").exists()


def test_data_path_that_is_a_file_is_explained(tmp_path, capsys):
    from keras_gen.cli import main

    photo = tmp_path / "photos" / "one.png"
    photo.parent.mkdir()
    photo.write_bytes(b"not really")
    config = ROOT / "training/configs/smoke_gan.yaml"
    code = main(
        [
            "train",
            str(config),
            "--work-dir",
            str(tmp_path / "run"),
            "--set",
            "data.source=folder",
            f"data.path={photo}",
            "data.num_images=null",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "is a file, not a folder" in err and str(photo.parent) in err


def test_a_read_only_work_dir_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    import errno

    from keras_gen import cli, trainer

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "run"))

    monkeypatch.setattr(trainer, "train", read_only)
    config = ROOT / "training/configs/smoke_gan.yaml"
    assert cli.main(["train", str(config), "--work-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Read-only file system" in err and str(tmp_path / "run") in err
    assert "Traceback" not in err


def test_set_takes_several_overrides_and_repeats():
    from keras_gen.cli import build_parser

    args = build_parser().parse_args(
        [
            "train",
            "c.yaml",
            "--set",
            "train.epochs=1",
            "train.steps_per_epoch=20",
            "--set",
            "name=x",
        ]
    )
    assert args.configs == ["c.yaml"]
    assert args.set == ["train.epochs=1", "train.steps_per_epoch=20", "name=x"]


def test_version_and_defaults_in_help(capsys):
    from keras_gen import __version__
    from keras_gen.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == (
        f"keras-gen {__version__}"
    )
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "(default: 1024)" in capsys.readouterr().out


def test_ctrl_c_exits_130(monkeypatch, capsys):
    from keras_gen import cli, trainer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train", interrupted)
    config = ROOT / "training/configs/smoke_gan.yaml"
    assert cli.main(["train", str(config)]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_our_warnings_are_one_line(tmp_path, capsys):
    import warnings

    from keras_gen.cli import _one_line_warnings
    from keras_gen.data.folder import SkippedImagesWarning

    saved = warnings.showwarning
    try:
        _one_line_warnings()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn(
                "3 of 10 image files were skipped", SkippedImagesWarning, stacklevel=1
            )
    finally:
        warnings.showwarning = saved
    err = capsys.readouterr().err
    assert err == "keras-gen: warning: 3 of 10 image files were skipped\n"


def test_sample_takes_a_run_folder(trained):
    from keras_gen.cli import sample_images

    kind, tmp, _ = trained
    run_dir = tmp / "runs" / f"smoke_{kind}"
    from_folder = sample_images(run_dir, 3, seed=1)
    from_file = sample_images(run_dir / "model.keras", 3, seed=1)
    np.testing.assert_array_equal(from_folder, from_file)


def test_a_config_typo_is_answered_without_importing_tensorflow(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  widht: 8\n")
    script = (
        "import sys\n"
        "from keras_gen.cli import main\n"
        f"code = main(['train', {str(bad)!r}])\n"
        "print('RESULT', code, 'tensorflow' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert "RESULT 2 False" in proc.stdout, proc.stderr[-2000:]
    # One line naming the key; none of TensorFlow's start-up chatter.
    assert "model.widht" in proc.stderr
    assert "oneDNN" not in proc.stderr and "absl" not in proc.stderr


def test_evaluate_takes_a_run_folder_and_a_savedmodel(trained):
    kind, tmp, _ = trained
    if kind != "gan":
        pytest.skip("one family is enough for the model-path forms")
    common = ["--data", "rooms:24", "--num", "24", "--metrics", "fid,kid"]
    common += ["--kid-subsets", "2", "--kid-subset-size", "12", "--features", "random"]
    results = {}
    for name, model in (
        ("run", tmp / "runs" / "smoke_gan"),
        ("saved", tmp / "saved_models" / "smoke_gan"),
    ):
        out = tmp / f"eval_{name}.json"
        run([str(KERAS_GEN), "evaluate", str(model), *common, "--out", str(out)], tmp)
        results[name] = json.loads(out.read_text())
    assert results["saved"]["model"]["fid"] > 0
    assert "SavedModel" in json.dumps(results["saved"])
    # The same latents through the same weights: nearly the same distance.
    fids = [results[n]["model"]["fid"] for n in ("run", "saved")]
    assert fids[1] == pytest.approx(fids[0], rel=0.1)
