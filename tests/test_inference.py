"""Finding and loading the model a command names (keras_gen.inference)."""

import pytest

from keras_gen import inference


def test_missing_and_unrecognised_paths_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="model not found: .*nope"):
        inference.resolve_model_path(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a run folder, a .keras file"):
        inference.resolve_model_path(tmp_path / "empty")


def test_a_corrupt_keras_file_is_called_corrupt_not_missing(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"half a zip")
    for path in (bad, tmp_path):  # the file, and its run folder
        with pytest.raises(ValueError, match="not a valid .keras file.*corrupt"):
            inference.load_keras(path)


def test_savedmodel_versions_resolve_to_the_highest(tmp_path):
    for version in ("1", "10", "2", "tmp"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "saved_model.pb").write_bytes(b"")
    assert inference.resolve_model_path(tmp_path) == tmp_path / "10"
    with pytest.raises(FileNotFoundError, match="a SavedModel; this needs"):
        inference.load_keras(tmp_path)


def test_a_model_that_does_not_generate_is_named_with_its_command(tmp_path):
    import keras

    from keras_gen.models import DenoisingAutoencoder
    from keras_gen.models.vae.dae import build_dae_network

    dae = DenoisingAutoencoder(build_dae_network(4, 1), {"noise": "gaussian"})
    dae.compile(optimizer=keras.optimizers.Adam(1e-3))
    dae.save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match="DenoisingAutoencoder.*keras-gen denoise"):
        inference.load_generator(tmp_path)


def test_class_ids_by_name_id_or_in_turn():
    names = ["bedroom", "kitchen", "bath"]
    assert list(inference.class_ids(None, names, 4)) == [0, 1, 2, 0]
    assert list(inference.class_ids("kitchen", names, 2)) == [1, 1]
    assert list(inference.class_ids("2", names, 1)) == [2]
    with pytest.raises(ValueError, match="unknown class 'attic'; classes: bedroom"):
        inference.class_ids("attic", names, 1)


def test_save_samples_as_npz_or_grid(tmp_path):
    import numpy as np
    from PIL import Image

    images = np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3), np.uint8)
    npz = inference.save_samples(images, tmp_path / "a" / "s.npz", seed=5)
    with np.load(npz) as saved:
        np.testing.assert_array_equal(saved["images"], images)
        np.testing.assert_array_equal(saved["seeds"], [5, 6, 7])
    png = inference.save_samples(images, tmp_path / "grid.png")
    with Image.open(png) as grid:
        assert grid.size[0] >= 8 and grid.size[1] >= 8
    with pytest.raises(ValueError, match=r"--out must end in .png or .npz"):
        inference.save_samples(images, tmp_path / "s.jpg")
    with pytest.raises(ValueError, match="--num must be >= 1, got 0"):
        inference.check_samples_out(tmp_path / "s.png", 0)


def test_sample_images_names_a_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="model not found"):
        inference.sample_images(tmp_path / "nope", 2)
