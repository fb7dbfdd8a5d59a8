"""The versioned model repository, `models.config` and `keras-gen export`."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.cli import main
from keras_gen.export import (
    export_generator,
    list_models,
    models_config_text,
    next_version,
)
from tests.export.conftest import tiny_gan, tiny_vae


def parse_models_config(text: str) -> dict[str, str]:
    """name -> base_path, parsed by TF Serving's own protobuf definition."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    entries = config.model_config_list.config
    assert all(c.model_platform == "tensorflow" for c in entries)
    return {c.name: c.base_path for c in entries}


needs_serving_api = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_serving") is None,
    reason="tensorflow-serving-api not installed (see the README's serving extra)",
)


def test_versions_count_up_and_never_overwrite_silently(gan, tmp_path):
    assert export_generator(gan, tmp_path, "g") == tmp_path / "g" / "1"
    (tmp_path / "g" / "notes").mkdir()  # non-integer folders are not versions
    assert export_generator(gan, tmp_path, "g") == tmp_path / "g" / "2"
    assert next_version(tmp_path / "g") == 3
    with pytest.raises(FileExistsError):
        export_generator(gan, tmp_path, "g", version=2)
    before = (tmp_path / "g" / "2" / "saved_model.pb").stat().st_ino
    export_generator(gan, tmp_path, "g", version=2, overwrite=True)
    assert (tmp_path / "g" / "2" / "saved_model.pb").stat().st_ino != before
    # Versions are written aside and renamed in: nothing half-written is left.
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["1", "2", "notes"]
    with pytest.raises(ValueError, match="model name"):
        export_generator(gan, tmp_path, "a b")
    # Readable like any folder made here (mkdtemp alone would give 0700).
    mode = (tmp_path / "g" / "1").stat().st_mode & 0o777
    assert mode == (tmp_path / "g" / "notes").stat().st_mode & 0o777


def stored_values(version_dir) -> int:
    reader = tf.train.load_checkpoint(str(version_dir / "variables" / "variables"))
    shapes = reader.get_variable_to_shape_map()
    return sum(int(np.prod(s)) for k, s in shapes.items() if "OBJECT_GRAPH" not in k)


def test_every_weight_is_stored_once(repo, gan, vae):
    # keras-team/keras#23553: tracking the networks besides the endpoints
    # writes (and makes servers load) every weight twice.
    assert stored_values(repo / "gan" / "1") == gan.generator.count_params()
    networks = vae.encoder.count_params() + vae.decoder.count_params()
    assert stored_values(repo / "vae" / "1") == networks


@needs_serving_api
def test_models_config_lists_every_model_in_tf_servings_format(repo, tmp_path):
    text = (repo / "models.config").read_text()
    assert parse_models_config(text) == {
        "gan": str(repo.resolve() / "gan"),
        "vae": str(repo.resolve() / "vae"),
    }
    # Docker: the repository is mounted at /models inside the container.
    docker = parse_models_config(models_config_text(repo, base_path="/models/"))
    assert docker == {"gan": "/models/gan", "vae": "/models/vae"}
    # A folder without a servable version is not listed (the server would fail).
    (tmp_path / "empty" / "1").mkdir(parents=True)
    assert list_models(tmp_path) == []


def test_keras_gen_export_cli(tmp_path, monkeypatch, capsys):
    # A run folder as `keras-gen train` leaves it, and a bare .keras file.
    gan, vae = tiny_gan(), tiny_vae()
    gan.compile()
    vae.compile(optimizer="adam")
    (tmp_path / "runs" / "g").mkdir(parents=True)
    gan.save(tmp_path / "runs" / "g" / "model.keras")
    vae.save(tmp_path / "vae.keras")

    # `keras-gen export` (the console script calls this `main`), run from the
    # project folder so that the default repository is ./saved_models.
    monkeypatch.chdir(tmp_path)
    assert main(["export", "runs/g", "--name", "rooms_gan"]) == 0
    stdout = capsys.readouterr().out
    assert "generate_png" in stdout and "models.config" in stdout
    repo = tmp_path / "saved_models"
    assert (repo / "rooms_gan" / "1" / "saved_model.pb").is_file()

    argv = ["export", str(tmp_path / "vae.keras"), "--name", "rooms_vae"]
    argv += ["--export-dir", str(repo), "--anomaly-threshold", "5000"]
    assert main(argv + ["--version", "3"]) == 0
    loaded = tf.saved_model.load(str(repo / "rooms_vae" / "3"))
    outputs = loaded.signatures["anomaly_score"].structured_outputs
    assert set(outputs) == {"score", "is_anomaly"}
    assert main(argv + ["--version", "3"]) == 2  # exists: refused, exit code 2
    assert main(argv) == 0  # next free version
    assert (repo / "rooms_vae" / "4" / "saved_model.pb").is_file()
    config = (repo / "models.config").read_text()
    assert config == models_config_text(repo)  # both models, TF Serving format
    assert 'name: "rooms_gan"' in config and 'name: "rooms_vae"' in config
    assert main(["export", str(tmp_path / "nothing"), "--name", "x"]) == 2


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/b", "", "x" * 101])
def test_unsafe_model_names_are_refused_before_anything_is_written(tmp_path, name):
    from keras_gen.export import publish_version

    written = []
    with pytest.raises(ValueError, match="not allowed"):
        publish_version(written.append, tmp_path / "repo", name, version=5)
    assert written == [] and not (tmp_path / "repo").exists()


def test_models_config_is_readable_by_other_users(tmp_path):
    import os
    import stat

    from keras_gen.export import write_models_config

    old = os.umask(0o022)
    try:
        path = write_models_config(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_killed_exports_temporary_folder_is_cleaned_by_the_next(tmp_path):
    import os
    import subprocess
    import sys

    from keras_gen.export import publish_version

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    model_dir = tmp_path / "m"
    stale = model_dir / f".tmp-3-{int(dead.stdout)}-abc"
    live = model_dir / f".tmp-4-{os.getpid()}-abc"  # an export still running
    foreign = model_dir / ".tmp-notours"
    for path in (stale, live, foreign):
        path.mkdir(parents=True)
    path = publish_version(
        lambda d: (d / "saved_model.pb").write_text("x"),
        tmp_path,
        "m",
        write_config=False,
    )
    assert path == model_dir / "1" and (path / "saved_model.pb").is_file()
    assert not stale.exists() and live.exists() and foreign.exists()


def test_a_rerun_with_the_same_weights_reuses_its_version(gan, tmp_path):
    from keras_gen.export import same_weights_version

    assert same_weights_version(gan, tmp_path, "g") is None
    first = export_generator(gan, tmp_path, "g")
    assert same_weights_version(gan, tmp_path, "g") == first
    changed = tiny_gan(seed=1)
    assert same_weights_version(changed, tmp_path, "g") is None
