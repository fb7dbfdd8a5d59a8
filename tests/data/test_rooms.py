"""Tests for the procedural room renderer (keras_gen.data.rooms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keras_gen.data import rooms
from keras_gen.data.rooms import (
    FLOOR_TEXTURES,
    ROOM_LABELS,
    image_seed,
    render_room,
    render_rooms,
)
from keras_gen.data.rooms import render as rooms_render

_INT_LABELS = {
    "has_bed",
    "num_windows",
    "has_door",
    "num_frames",
    "has_rug",
    "has_lamp",
    "floor_texture",
}


def _luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _intermediate_pixels(image: np.ndarray) -> int:
    """Pixels on a strong edge whose value lies well between their neighbours.

    A hard (aliased) edge jumps from one colour to the other, so the middle
    pixel of a high-contrast triple equals one of its neighbours; an
    antialiased edge has partial-coverage pixels in between.
    """
    count = 0
    y = _luma(image)
    for a in (y, y.T):
        left, mid, right = a[:, :-2], a[:, 1:-1], a[:, 2:]
        contrast = np.abs(right - left)
        low = np.minimum(left, right)
        between = (mid > low + 0.25 * contrast) & (mid < low + 0.75 * contrast)
        count += int((between & (contrast > 30)).sum())
    return count


def _sky_pixels(image: np.ndarray) -> int:
    rgb = image.astype(np.int32)
    return int(((rgb[..., 2] - rgb[..., 0] > 40) & (rgb[..., 2] > 140)).sum())


@pytest.fixture(scope="module")
def label_table() -> dict[str, np.ndarray]:
    _, labels = render_rooms(200, size=32, seed=11, workers=1)
    return labels


# --------------------------------------------------------------------------- #
# render_room
# --------------------------------------------------------------------------- #
def test_same_seed_gives_identical_pixels_and_labels() -> None:
    a, la = render_room(1234, 64)
    b, lb = render_room(1234, 64)
    np.testing.assert_array_equal(a, b)
    assert la == lb


def test_different_seeds_give_different_images() -> None:
    images = [render_room(seed, 64)[0].astype(np.float32) for seed in range(8)]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert np.abs(images[i] - images[j]).mean() > 10.0, (i, j)


@pytest.mark.parametrize("size", [32, 64, 100, 256])
def test_shape_dtype_and_label_types(size: int) -> None:
    image, labels = render_room(3, size)
    assert image.shape == (size, size, 3)
    assert image.dtype == np.uint8
    assert tuple(labels) == ROOM_LABELS
    for name, value in labels.items():
        expected = int if name in _INT_LABELS else float
        assert type(value) is expected, name


def test_same_seed_is_the_same_scene_at_every_size() -> None:
    # Labels are size-independent, and a 256 render box-filtered to 64 matches
    # the 64 render (up to pixel noise), but not another seed's room.
    for seed in range(4):
        small, labels_small = render_room(seed, 64)
        big, labels_big = render_room(seed, 256)
        other, _ = render_room(seed + 50, 256)
        assert labels_small == labels_big
        down = big.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
        other_down = other.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
        assert np.abs(small - down).mean() < 8.0
        assert np.abs(small - other_down).mean() > 20.0


def test_label_values_are_within_documented_ranges(
    label_table: dict[str, np.ndarray],
) -> None:
    assert set(label_table) == set(ROOM_LABELS)
    for name in ("has_bed", "has_door", "has_rug", "has_lamp"):
        assert set(np.unique(label_table[name])) <= {0, 1}, name
    assert label_table["num_windows"].min() >= 0
    assert label_table["num_windows"].max() <= rooms.MAX_WINDOWS
    assert label_table["num_frames"].max() <= rooms.MAX_FRAMES
    assert set(np.unique(label_table["floor_texture"])) <= {0, 1, 2}
    for name in ("wall_hue", "floor_hue", "light_x", "wall_saturation", "wall_value"):
        assert label_table[name].min() >= 0.0, name
        assert label_table[name].max() <= 1.0, name
    assert label_table["vanishing_x"].min() >= 0.3
    assert label_table["vanishing_x"].max() <= 0.7
    assert label_table["vanishing_y"].min() >= 0.33
    assert label_table["vanishing_y"].max() <= 0.5
    assert label_table["back_wall_width"].min() >= 0.45
    assert label_table["back_wall_width"].max() <= 0.68


def test_label_statistics_show_variety(label_table: dict[str, np.ndarray]) -> None:
    counts = np.bincount(label_table["floor_texture"], minlength=len(FLOOR_TEXTURES))
    assert (counts >= 20).all(), counts
    bed_rate = label_table["has_bed"].mean()
    assert 0.5 <= bed_rate <= 0.8, bed_rate
    assert set(np.unique(label_table["num_windows"])) == {0, 1, 2}
    assert set(np.unique(label_table["num_frames"])) == {0, 1, 2, 3}
    for name in ("has_door", "has_rug", "has_lamp"):
        assert 0.25 <= label_table[name].mean() <= 0.75, name
    # Continuous factors spread over their range rather than collapsing.
    assert label_table["wall_hue"].std() > 0.2
    assert label_table["vanishing_x"].std() > 0.07


def test_images_are_not_flat() -> None:
    images, _ = render_rooms(30, size=64, seed=5)
    stds = images.reshape(len(images), -1).std(axis=1)
    assert stds.min() > 15.0, stds.min()


def test_edges_are_antialiased(monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = range(10)
    smooth = [_intermediate_pixels(render_room(s, 64)[0]) for s in seeds]
    # The same rooms without supersampling: hard, aliased edges.
    monkeypatch.setattr(rooms_render, "_supersampling", lambda size: 1)
    hard = [_intermediate_pixels(render_room(s, 64)[0]) for s in seeds]
    assert min(smooth) > 80, smooth
    assert sum(smooth) > 2.5 * sum(hard), (smooth, hard)


# --------------------------------------------------------------------------- #
# Overrides
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", [0, 7, 19, 42])
def test_bed_override_changes_only_the_floor_region(seed: int) -> None:
    with_bed, labels_with = render_room(seed, 64, has_bed=True)
    without, labels_without = render_room(seed, 64, has_bed=False)
    assert labels_with["has_bed"] == 1 and labels_without["has_bed"] == 0
    rest = [name for name in ROOM_LABELS if name != "has_bed"]
    assert [labels_with[k] for k in rest] == [labels_without[k] for k in rest]
    changed = np.abs(with_bed.astype(int) - without.astype(int)).max(axis=-1) > 24
    assert changed.sum() > 100  # a bed is a sizeable object at 64x64
    horizon = int(labels_with["vanishing_y"] * 64)
    # The bed stands on the floor below eye level: nothing above the
    # horizon's upper part changes, and most changes are below the horizon.
    assert not changed[:16].any()
    assert changed[horizon:].sum() >= 0.9 * changed.sum()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_windows_add_sky_blue_pixels(seed: int) -> None:
    # Near-grey walls so that sky-blue pixels can only come from the sky.
    none, labels_none = render_room(seed, 64, num_windows=0, wall_saturation=0.1)
    two, labels_two = render_room(seed, 64, num_windows=2, wall_saturation=0.1)
    assert labels_none["num_windows"] == 0
    assert labels_two["num_windows"] == 2
    assert _sky_pixels(two) >= _sky_pixels(none) + 40


@pytest.mark.parametrize(
    ("key", "min_pixels"),
    [
        ("has_rug", 10),
        ("has_lamp", 60),
        ("has_door", 20),
        ("num_windows", 20),
        ("num_frames", 3),  # a small frame on a far wall is a few pixels
    ],
)
def test_every_labelled_object_is_visible(key: str, min_pixels: int) -> None:
    # A label is only useful if the object it counts can be seen.
    for seed in range(20):
        with_object, labels = render_room(seed, 64, **{key: 1})
        without, _ = render_room(seed, 64, **{key: 0})
        assert labels[key] == 1, seed
        diff = np.abs(with_object.astype(int) - without.astype(int)).max(axis=-1)
        assert (diff > 20).sum() >= min_pixels, (seed, int((diff > 20).sum()))


def test_count_overrides_are_honoured_and_reported() -> None:
    for seed in range(30):
        _, labels = render_room(seed, 32, num_windows=2, num_frames=1, has_door=True)
        assert (labels["num_windows"], labels["num_frames"], labels["has_door"]) == (
            2,
            1,
            1,
        ), seed
        _, empty = render_room(
            seed,
            32,
            has_bed=False,
            num_windows=0,
            has_door=False,
            num_frames=0,
            has_rug=False,
            has_lamp=False,
        )
        for name in ("has_bed", "num_windows", "has_door", "num_frames", "has_rug"):
            assert empty[name] == 0, (seed, name)


def test_floor_texture_override_by_name_or_index() -> None:
    tiles, labels = render_room(
        8, 64, floor_texture="tiles", has_bed=False, has_rug=False
    )
    same, labels_index = render_room(
        8, 64, floor_texture=1, has_bed=False, has_rug=False
    )
    carpet, labels_carpet = render_room(
        8, 64, floor_texture="carpet", has_bed=False, has_rug=False
    )
    assert labels["floor_texture"] == labels_index["floor_texture"] == 1
    assert labels_carpet["floor_texture"] == FLOOR_TEXTURES.index("carpet")
    np.testing.assert_array_equal(tiles, same)
    changed = np.abs(tiles.astype(int) - carpet.astype(int)).max(axis=-1) > 10
    bottom = changed[48:].mean()
    assert bottom > 0.5  # the floor fills the bottom rows
    assert changed[:8].mean() < 0.05  # the ceiling does not change


def test_wall_hue_override_is_reported_and_visible() -> None:
    red, labels_red = render_room(4, 64, wall_hue=0.0, wall_saturation=0.4)
    blue, labels_blue = render_room(4, 64, wall_hue=0.66, wall_saturation=0.4)
    assert labels_red["wall_hue"] == 0.0 and labels_blue["wall_hue"] == 0.66
    x = int(labels_red["vanishing_x"] * 64)
    y = int(labels_red["vanishing_y"] * 64)
    # The vanishing point lies on the back wall; compare its neighbourhood.
    patch_red = red[y - 2 : y + 1, x - 2 : x + 3].reshape(-1, 3).astype(int)
    patch_blue = blue[y - 2 : y + 1, x - 2 : x + 3].reshape(-1, 3).astype(int)
    assert (patch_red[:, 0] - patch_red[:, 2]).mean() > 20
    assert (patch_blue[:, 2] - patch_blue[:, 0]).mean() > 20


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"bogus": 1}, "bogus"),
        ({"num_windows": 5}, "num_windows"),
        ({"num_frames": -1}, "num_frames"),
        ({"has_bed": "yes"}, "has_bed"),
        ({"has_bed": 2}, "has_bed"),
        ({"floor_texture": "marble"}, "floor_texture"),
        ({"floor_texture": 3}, "floor_texture"),
        ({"wall_hue": 1.5}, "wall_hue"),
        ({"vanishing_x": float("nan")}, "vanishing_x"),
    ],
)
def test_invalid_override_raises_naming_the_key(
    overrides: dict[str, object], key: str
) -> None:
    with pytest.raises(ValueError, match=key) as info:
        render_room(0, 32, **overrides)
    assert "allowed" in str(info.value)
    with pytest.raises(ValueError, match=key):
        render_rooms(2, 32, **overrides)


def test_floor_texture_error_lists_the_textures() -> None:
    with pytest.raises(ValueError, match="planks"):
        render_room(0, 32, floor_texture="marble")


@pytest.mark.parametrize("size", [31, 257, 0, 64.0, "64"])
def test_invalid_size_raises(size: object) -> None:
    with pytest.raises(ValueError, match=r"size.*32.*256"):
        render_room(0, size)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        render_rooms(2, size)  # type: ignore[arg-type]


def test_invalid_num_seed_and_workers_raise() -> None:
    with pytest.raises(ValueError, match="num"):
        render_rooms(0)
    with pytest.raises(ValueError, match="seed"):
        render_room(-1)
    with pytest.raises(ValueError, match="seed"):
        render_rooms(2, seed=-3)
    with pytest.raises(ValueError, match="workers"):
        render_rooms(2, workers=0)


# --------------------------------------------------------------------------- #
# render_rooms
# --------------------------------------------------------------------------- #
def test_render_rooms_equals_stacked_render_room() -> None:
    images, labels = render_rooms(6, size=48, seed=9, has_rug=True)
    assert images.shape == (6, 48, 48, 3) and images.dtype == np.uint8
    for name in ROOM_LABELS:
        expected = np.int32 if name in _INT_LABELS else np.float32
        assert labels[name].dtype == expected and labels[name].shape == (6,), name
    for i in range(6):
        image, single = render_room(image_seed(9, i), 48, has_rug=True)
        np.testing.assert_array_equal(images[i], image)
        for name in ROOM_LABELS:
            assert labels[name][i] == np.asarray(single[name], labels[name].dtype)
    assert image_seed(9, 5) == 9 * 1_000_003 + 5


def test_render_rooms_is_independent_of_workers_and_prefix_stable() -> None:
    one, labels_one = render_rooms(10, size=32, seed=2, workers=1)
    two, labels_two = render_rooms(10, size=32, seed=2, workers=2, progress=True)
    np.testing.assert_array_equal(one, two)
    for name in ROOM_LABELS:
        np.testing.assert_array_equal(labels_one[name], labels_two[name])
    # A shorter set is a prefix of a longer one with the same seed.
    prefix, _ = render_rooms(4, size=32, seed=2)
    np.testing.assert_array_equal(prefix, one[:4])
    other, _ = render_rooms(4, size=32, seed=3)
    assert not np.array_equal(other, prefix)


def test_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images, labels = render_rooms(5, size=32, seed=4, cache_dir=tmp_path, has_lamp=True)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    assert f"v{rooms.RENDERER_VERSION}" in files[0].name
    assert not list(tmp_path.glob("*.tmp"))

    def fail(*args: object) -> None:
        raise AssertionError("rendered although a valid cache exists")

    monkeypatch.setattr(rooms_render, "_render_chunk", fail)
    cached, cached_labels = render_rooms(
        5, size=32, seed=4, cache_dir=tmp_path, has_lamp=True
    )
    np.testing.assert_array_equal(cached, images)
    for name in ROOM_LABELS:
        np.testing.assert_array_equal(cached_labels[name], labels[name])
        assert cached_labels[name].dtype == labels[name].dtype
    monkeypatch.undo()
    # Other parameters or overrides use their own file.
    render_rooms(5, size=32, seed=4, cache_dir=tmp_path)
    render_rooms(5, size=32, seed=4, cache_dir=tmp_path, has_lamp=False)
    assert len(list(tmp_path.glob("*.npz"))) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shape"])
def test_corrupt_cache_is_rendered_again(tmp_path: Path, damage: str) -> None:
    images, _ = render_rooms(4, size=32, seed=6, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    if damage == "garbage":
        path.write_bytes(b"this is not an npz file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        np.savez(path, images=np.zeros((1, 2, 3), np.uint8))
    with pytest.warns(RuntimeWarning, match="rendering again"):
        again, labels = render_rooms(4, size=32, seed=6, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, images)
    assert labels["has_bed"].shape == (4,)
    # The damaged file was replaced by a valid one.
    with np.load(path) as data:
        np.testing.assert_array_equal(data["images"], images)


def test_unwritable_cache_warns_but_returns_images(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("occupied")
    with pytest.warns(RuntimeWarning, match="could not write"):
        images, _ = render_rooms(2, size=32, seed=1, cache_dir=not_a_dir / "cache")
    np.testing.assert_array_equal(images, render_rooms(2, size=32, seed=1)[0])
