"""Presets: publishing a run, loading by name, the CLI's --preset, fine-tuning.

A smoke GAN is trained here and published into a scratch presets folder
(`KERAS_GEN_PRESETS_DIR` for subprocesses, the module attribute in-process);
the presets that ship with the package are checked in
`test_shipped_presets.py`.
"""

import json
import shutil

import numpy as np
import pytest

from keras_gen import presets
from keras_gen.config import load_config
from tests.test_cli import KERAS_GEN, ROOT, run

SMOKE = ROOT / "training" / "configs" / "smoke_gan.yaml"


def _train(work_dir, overrides=()):
    from keras_gen.trainer import train

    config = load_config(
        SMOKE, [f"output.work_dir={work_dir}", "output.export_dir=null", *overrides]
    )
    return train(config)


def _publish(run_dir, saved_models):
    from keras_gen.presets.publish import publish

    return publish(
        run_dir,
        "tiny_gan",
        task="generate",
        description="smoke GAN",
        data={"name": "procedural rooms"},
        licence="Apache-2.0",
        saved_models=saved_models,
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("presets")
    result = _train(tmp / "run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(presets, "PRESETS_DIR", tmp / "presets")
        folder = _publish(tmp / "run", tmp / "saved_models")
    return tmp, folder, result


@pytest.fixture
def in_scratch(published, monkeypatch):
    tmp, _, _ = published
    monkeypatch.setattr(presets, "PRESETS_DIR", tmp / "presets")
    return tmp


def test_publish_writes_weights_record_and_savedmodel(published):
    tmp, folder, result = published
    record = json.loads((folder / "preset.json").read_text())
    assert record["sha256"] == presets.sha256_of(folder / "model.keras")
    assert record["size_bytes"] == (folder / "model.keras").stat().st_size
    assert record["images_seen"] == result.images_seen > 0
    assert record["model_class"] == "GAN" and record["image_size"] == 32
    assert record["config"]["model"]["width"] == 8
    assert (tmp / "saved_models" / "tiny_gan" / "1" / "saved_model.pb").is_file()
    assert "generate" in record["saved_model"]["signatures"]
    assert '"tiny_gan"' in (tmp / "saved_models" / "models.config").read_text()


def test_publish_stores_kernels_in_half_precision(published, in_scratch, tmp_path):
    import zipfile

    import h5py

    from keras_gen.presets.storage import MIN_HALF_SIZE

    tmp, folder, result = published
    record = json.loads((folder / "preset.json").read_text())
    assert record["weights_dtype"] == "float16"
    with zipfile.ZipFile(folder / "model.keras") as zf:
        zf.extract("model.weights.h5", tmp_path)
    dtypes = {}

    def note(name, obj):  # returns None: visititems stops at any other value
        if isinstance(obj, h5py.Dataset):
            dtypes[name] = (obj.dtype, obj.size)

    with h5py.File(tmp_path / "model.weights.h5") as h5:
        h5.visititems(note)
    halves = [size for dtype, size in dtypes.values() if dtype == np.float16]
    assert len(halves) == record["weights_arrays"]["float16"] > 0
    assert min(halves) >= MIN_HALF_SIZE
    # Small float arrays (biases, batch-norm statistics) stay float32.
    assert any(dtype == np.float32 for dtype, _ in dtypes.values())
    # Loaded back into float32 variables; the kernels are the trained ones
    # rounded to float16, and the file is well under a float32 save's size.
    loaded = presets.load("tiny_gan").generator.get_weights()
    trained = result.model.generator.get_weights()
    for a, b in zip(loaded, trained):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)
    assert any(not np.array_equal(a, b) for a, b in zip(loaded, trained))
    full = tmp_path / "full.keras"
    result.model.save(full)
    assert record["size_bytes"] < 0.7 * full.stat().st_size


def test_half_precision_keeps_what_float16_cannot_hold():
    from keras_gen.presets.storage import _halve

    big = np.linspace(-3, 3, 4096, dtype=np.float32)
    np.testing.assert_allclose(_halve(big), big, rtol=1e-3, atol=1e-4)
    assert _halve(big[:100]) is None  # small: statistics, biases
    assert _halve(np.full(2048, 1e6, np.float32)) is None  # out of range
    assert _halve(np.full(2048, np.inf, np.float32)) is None
    assert _halve(np.arange(2048, dtype=np.int64)) is None  # seed state, counters


def test_load_by_name_in_float32_and_from_preset(in_scratch):
    from keras_gen.models import GAN, VAE
    from keras_gen.precision import compute_dtypes

    gan = presets.load("tiny_gan")
    assert isinstance(gan, GAN) and not compute_dtypes(gan)
    np.testing.assert_array_equal(
        GAN.from_preset("tiny_gan").generate_uint8(2, seed=3),
        gan.generate_uint8(2, seed=3),
    )
    with pytest.raises(ValueError, match="is a GAN, not a VAE"):
        VAE.from_preset("tiny_gan")
    assert [p.name for p in presets.list_presets()] == ["tiny_gan"]
    assert "tiny_gan" in presets.table() and "Apache-2.0" in presets.table()


def test_unknown_names_list_the_valid_ones(in_scratch):
    for name in ("nope", "../tiny_gan", ".hidden"):
        with pytest.raises(ValueError, match="valid names: tiny_gan"):
            presets.get(name)


def test_changed_weights_fail_the_sha256_check(in_scratch, tmp_path, monkeypatch):
    shutil.copytree(in_scratch / "presets", tmp_path / "p")
    weights = tmp_path / "p" / "tiny_gan" / "model.keras"
    weights.write_bytes(weights.read_bytes()[:-100])
    monkeypatch.setattr(presets, "PRESETS_DIR", tmp_path / "p")
    with pytest.raises(ValueError, match="sha256 does not match"):
        presets.load("tiny_gan")


def test_cli_takes_preset_everywhere_a_model_goes(published, tmp_path):
    tmp, _, _ = published
    env = {"KERAS_GEN_PRESETS_DIR": str(tmp / "presets")}
    proc = run([str(KERAS_GEN), "presets"], cwd=tmp_path, env=env)
    assert "| tiny_gan | generate |" in proc.stdout
    out = tmp_path / "s.png"
    cmd = [str(KERAS_GEN), "sample", "--preset", "tiny_gan", "--num", "4"]
    run([*cmd, "--out", str(out)], cwd=tmp_path, env=env)
    assert out.stat().st_size > 0
    run(
        [str(KERAS_GEN), "interpolate", "preset:tiny_gan", "--out", "i.png"],
        cwd=tmp_path,
        env=env,
    )
    bad = run([*cmd[:3], "nope", "--out", "x.png"], cwd=tmp_path, env=env, check=False)
    assert bad.returncode == 2 and "valid names: tiny_gan" in bad.stderr
    both = run([*cmd, "runs/x", "--out", "x.png"], cwd=tmp_path, env=env, check=False)
    assert both.returncode == 2 and "not both" in both.stderr
    none = run([str(KERAS_GEN), "sample", "--out", "x.png"], cwd=tmp_path, check=False)
    assert none.returncode == 2 and "--preset NAME" in none.stderr


def test_the_savedmodel_gives_the_keras_images(published, in_scratch):
    import tensorflow as tf

    tmp, _, _ = published
    loaded = tf.saved_model.load(str(tmp / "saved_models" / "tiny_gan" / "1"))
    seeds = tf.constant([5, 6, 7], tf.int64)
    served = loaded.signatures["generate"](seed=seeds)["images"].numpy()
    expected = presets.load("tiny_gan").generate_uint8(3, seed=5)
    assert np.abs(served.astype(int) - expected).max() <= 1


def test_init_from_a_preset_with_freeze_d(in_scratch, tmp_path):
    source = presets.load("tiny_gan")
    result = _train(
        tmp_path / "tuned",
        [
            "model.init_from=preset:tiny_gan",
            "model.freeze_d_layers=1",
            "train.epochs=1",
            "train.steps_per_epoch=2",
        ],
    )
    tuned = result.model
    d_src, d_new = source.discriminator, tuned.discriminator
    first = next(i for i, layer in enumerate(d_new.layers) if layer.weights)
    for a, b in zip(
        d_src.layers[first].get_weights(), d_new.layers[first].get_weights()
    ):
        np.testing.assert_array_equal(a, b)  # frozen: unchanged
    pairs = [
        (a.numpy(), b.numpy())
        for a, b in zip(
            source.generator.trainable_weights, tuned.generator.trainable_weights
        )
    ]
    assert any(not np.array_equal(a, b) for a, b in pairs)
    # Started from the preset, not from scratch: two Adam steps of 2e-4 move
    # a weight by about 4e-4 (a fresh initialisation would differ by ~0.1).
    assert max(np.abs(a - b).max() for a, b in pairs) < 2e-3


def test_a_continued_preset_counts_its_source(published, tmp_path, monkeypatch):
    # A run continued from tiny_gan, published over tiny_gan itself.
    shutil.copytree(published[0] / "presets", tmp_path / "presets")
    monkeypatch.setattr(presets, "PRESETS_DIR", tmp_path / "presets")
    before = presets.get("tiny_gan")
    steps = ["train.epochs=1", "train.steps_per_epoch=2"]
    result = _train(tmp_path / "more", ["model.init_from=preset:tiny_gan", *steps])
    folder = _publish(tmp_path / "more", saved_models=None)
    record = json.loads((folder / "preset.json").read_text())
    assert record["images_seen"] == before.images_seen + result.images_seen
    assert record["wall_time_s"] > before.wall_time_s
    parent = record["init_from"]
    assert parent["source"] == "preset:tiny_gan" and parent["sha256"] == before.sha256
    assert parent["images_seen"] == before.images_seen
    assert parent["config"] == before.record["config"]
    assert record["sha256"] != before.sha256


def test_init_from_names_mismatched_shapes(in_scratch, tmp_path):
    from keras_gen.config import ConfigError

    with pytest.raises(ConfigError, match="not the same architecture"):
        _train(
            tmp_path / "wide",
            ["model.init_from=preset:tiny_gan", "model.width=16", "train.epochs=1"],
        )


def test_anomaly_fit_refuses_to_write_into_a_preset(in_scratch):
    from keras_gen.anomaly import fit_folder

    with pytest.raises(ValueError, match="part of the preset"):
        fit_folder("preset:tiny_gan", in_scratch)


def test_models_config_keeps_the_servers_path(published, tmp_path):
    from keras_gen.export import write_models_config

    repo = tmp_path / "repo"
    shutil.copytree(published[0] / "saved_models", repo)
    write_models_config(repo, base_path="/models")
    write_models_config(repo)  # a later export without --base-path
    assert 'base_path: "/models/tiny_gan"' in (repo / "models.config").read_text()


def test_evaluation_entry_keeps_nested_figures(tmp_path):
    """An anomaly report's per-group figures reach the record; the rest stays out."""
    from keras_gen.presets.publish import evaluation_entry

    report = {
        "score": "nelbo",
        "threshold": -1131.5,
        "groups": {
            "bedroom": {"images": 500, "flagged_fraction": 0.054},
            "kitchen": {"images": 500, "roc_auc": 0.575, "tpr_at_5pct_fpr": 0.056},
        },
        "args": {"seed": 3},
        "vae": {"psnr": 19.0, "ssim": 0.43, "kl_bpd": 0.03},
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    figures = evaluation_entry(path, "keras-gen anomaly score ...")["figures"]
    assert figures == {
        "threshold": -1131.5,
        "groups.bedroom.images": 500,
        "groups.bedroom.flagged_fraction": 0.054,
        "groups.kitchen.images": 500,
        "groups.kitchen.roc_auc": 0.575,
        "groups.kitchen.tpr_at_5pct_fpr": 0.056,
        "vae.psnr": 19.0,
        "vae.ssim": 0.43,
    }


def test_spectral_norm_kernels_are_stored_once_and_load_back(tmp_path):
    import keras

    from keras_gen.presets.storage import save_half_precision

    inputs = keras.Input((8, 8, 64))
    conv = keras.layers.Conv2D(64, 3, name="conv")  # 36,864 kernel values
    outputs = keras.layers.SpectralNormalization(conv)(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 64)).astype("float32")
    model(x, training=True)  # one power iteration: u is trained state too
    counts = save_half_precision(model, tmp_path / "sn.keras")
    # Keras writes the wrapped kernel twice; the second is a link to the first.
    assert counts["linked"] >= 1 and counts["float16"] == 1
    plain = tmp_path / "plain.keras"
    model.save(plain)
    # float16 and once: a quarter of the two float32 copies, plus the config.
    assert (tmp_path / "sn.keras").stat().st_size < 0.35 * plain.stat().st_size
    loaded = keras.saving.load_model(tmp_path / "sn.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(x), model(x), rtol=2e-2, atol=2e-3)
    assert loaded.layers[1].layer.kernel.dtype == "float32"


def test_the_record_keeps_no_path_of_the_maintainers_machine(tmp_path):
    from keras_gen.presets.publish import _relative_paths

    config = {
        "data": {"path": f"{tmp_path}/runs/data/train", "other": [f"{tmp_path}/x"]}
    }
    config["output"] = {"work_dir": "/elsewhere/run", "num_samples": 64}
    config["shared"] = f"{tmp_path.parent}/shared/rooms64"
    got = _relative_paths(config, tmp_path)
    assert got["data"] == {"path": "runs/data/train", "other": ["x"]}
    assert got["shared"] == "../shared/rooms64"
    assert got["output"] == {"work_dir": "/elsewhere/run", "num_samples": 64}
