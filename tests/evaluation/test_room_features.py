"""The shipped room features: loaded offline, and ordering known damage."""

import json
import warnings

import numpy as np
import pytest

from keras_gen.evaluation import damage
from keras_gen.evaluation.features import RoomFeatures, get_feature_extractor
from keras_gen.evaluation.metrics import frechet_distance, kernel_inception_distance
from keras_gen.evaluation.room_classifier import (
    WEIGHTS_FILE,
    build_room_classifier,
    split_per_class,
)


@pytest.fixture(scope="module")
def rooms():
    return RoomFeatures()


@pytest.fixture(scope="module")
def rooms64():
    from keras_gen.data.rooms import render_rooms

    images, _ = render_rooms(240, size=64, seed=5, workers=1)
    return images


def fid(extractor, a, b):
    fa, fb = extractor(a), extractor(b)
    return frechet_distance(
        fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False)
    )


def test_default_features_are_the_shipped_classifier(rooms):
    assert get_feature_extractor().name == "rooms"
    record = json.loads(WEIGHTS_FILE.with_suffix(".json").read_text())
    assert record["class_names"] == [
        "bathroom",
        "bedroom",
        "dining_room",
        "entrance_hall",
        "kitchen",
        "living_room",
    ]
    # Trained well above chance (1/6) on every class of its validation split.
    assert min(v for k, v in record["validation_accuracy"].items()) > 0.35
    assert rooms.describe()["weights_sha256"] == rooms.weights_sha256
    assert WEIGHTS_FILE.stat().st_size < 8_000_000


def test_any_size_is_resized_to_the_classifier_input(rooms, rooms64):
    small = rooms(rooms64[:4])
    big = rooms(np.repeat(np.repeat(rooms64[:4], 4, axis=1), 4, axis=2))
    assert small.shape == big.shape == (4, 256)
    # Nearest upscaling then box downscaling gives back the image.
    np.testing.assert_allclose(small, big, atol=0.05 * np.abs(small).max())


def test_distances_order_known_damage(rooms, rooms64):
    reference, other = rooms64[:120], rooms64[120:]
    floor = fid(rooms, reference, other)
    blurs = [fid(rooms, reference, damage.blur(other, s)) for s in (1.0, 2.0)]
    assert floor < blurs[0] < blurs[1]
    assert fid(rooms, reference, damage.paste_cutout(other)) > floor
    assert fid(rooms, reference, damage.jpeg(other, 10)) > floor
    collapsed = damage.collapse(other, distinct=4)
    fr, fc = rooms(reference), rooms(collapsed)
    kid_collapsed, _ = kernel_inception_distance(fr, fc, num_subsets=5, subset_size=100)
    kid_floor, _ = kernel_inception_distance(
        fr, rooms(other), num_subsets=5, subset_size=100
    )
    assert kid_collapsed > kid_floor


def test_random_features_warn():
    with pytest.warns(UserWarning, match="do not measure image quality"):
        get_feature_extractor("random")


def test_model_path_with_layer(tmp_path):
    model = build_room_classifier(6, widths=(4, 8))
    path = tmp_path / "clf.keras"
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extractor = get_feature_extractor(f"{path}:stage1_relu2")
    assert extractor.dim == 4
    with pytest.raises(ValueError, match="no layer named"):
        get_feature_extractor(f"{path}:nope")


def test_split_holds_out_a_fraction_of_every_class():
    labels = np.repeat(np.arange(3), [100, 50, 10])
    train, val = split_per_class(labels, 0.1, seed=0)
    assert np.bincount(labels[val]).tolist() == [10, 5, 1]
    assert not set(train) & set(val) and len(train) + len(val) == len(labels)
    again = split_per_class(labels, 0.1, seed=0)
    np.testing.assert_array_equal(again[1], val)
