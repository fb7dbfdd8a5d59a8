"""Tests for image-folder datasets (keras_gen.data.folder), on generated images."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_gen.data.folder import (
    IMAGE_EXTENSIONS,
    SkippedImagesWarning,
    count_images,
    image_folder_dataset,
    scan_image_folder,
)
from keras_gen.data.pipeline import VALUE_RANGES, from_value_range

RED, GREEN, BLUE, GREY = (230, 30, 20), (20, 210, 40), (25, 35, 220), (128, 128, 128)


def _save(path: Path, image: np.ndarray | Image.Image, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, **kwargs)
    return path


def _solid(colour: tuple[int, int, int], size: int = 16) -> np.ndarray:
    return np.full((size, size, 3), colour, np.uint8)


def _noise(size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _batches(ds: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([b.numpy() for b in ds])


def _as_uint8(
    images: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)
) -> np.ndarray:
    return from_value_range(images, value_range)


def _skip_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message) for w in record if issubclass(w.category, SkippedImagesWarning)
    ]


# --------------------------------------------------------------------------- #
# Listing files
# --------------------------------------------------------------------------- #
def test_recursive_discovery_and_extension_case(tmp_path: Path) -> None:
    expected = [
        _save(tmp_path / "a" / "b" / "c" / "deep.JPG", _solid(RED)),
        _save(tmp_path / "a" / "mid.jpeg", _solid(RED)),
        _save(tmp_path / "top.Png", _solid(RED)),
        _save(tmp_path / "z" / "pic.BMP", _solid(RED)),
        _save(tmp_path / "z" / "anim.gif", _solid(RED)),
    ]
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "image.tiff").write_bytes(b"")  # extension not listed
    _save(tmp_path / "a" / "._resource_fork.jpg", _solid(RED))  # hidden file
    _save(tmp_path / ".thumbnails" / "t.jpg", _solid(RED))  # hidden folder
    (tmp_path / "empty_dir").mkdir()

    scan = scan_image_folder(tmp_path)
    assert scan.files == sorted(str(p) for p in expected)
    assert scan.skipped == [] and scan.reasons == {}
    assert count_images(tmp_path) == 5
    assert count_images(tmp_path / "a") == 2
    assert ".jpg" in IMAGE_EXTENSIONS and ".gif" in IMAGE_EXTENSIONS


def test_missing_path_and_empty_folder_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder"
    for call in (
        lambda: scan_image_folder(missing),
        lambda: count_images(missing),
        lambda: image_folder_dataset(missing, image_size=8, batch_size=2),
    ):
        with pytest.raises(FileNotFoundError, match="no_such_folder"):
            call()
    empty = tmp_path / "empty_one"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="empty_one") as error:
        image_folder_dataset(empty, image_size=8, batch_size=2)
    assert ".jpg" in str(error.value)  # names the extensions looked for
    assert count_images(empty) == 0
    # Only unreadable files: as good as empty, also an error naming the path.
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="only_bad"):
        scan_image_folder(only_bad)


# --------------------------------------------------------------------------- #
# Decoding
# --------------------------------------------------------------------------- #
def test_jpeg_png_bmp_gif_all_load(tmp_path: Path) -> None:
    paths = [
        _save(tmp_path / "1.jpg", _solid(RED), quality=95),
        _save(tmp_path / "2.png", _solid(GREEN)),
        _save(tmp_path / "3.bmp", _solid(BLUE)),
        _save(tmp_path / "4.gif", Image.fromarray(_solid(GREY)).quantize(4)),
    ]
    ds = image_folder_dataset(
        tmp_path, image_size=16, batch_size=4, training=False, cache=False
    )
    images = _as_uint8(_batches(ds))
    assert images.shape == (4, 16, 16, 3)
    for image, path in zip(images, paths):
        reference = np.asarray(Image.open(path).convert("RGB"))
        np.testing.assert_array_equal(image, reference, err_msg=str(path))
    np.testing.assert_allclose(
        images.reshape(4, -1, 3).mean(1), [RED, GREEN, BLUE, GREY], atol=4
    )


def test_greyscale_and_rgba_become_correct_rgb(tmp_path: Path) -> None:
    grey = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))  # 16 x 16 ramp
    _save(tmp_path / "1_grey.png", Image.fromarray(grey, "L"))
    _save(tmp_path / "2_grey.jpg", Image.fromarray(grey, "L"), quality=100)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:, :8] = (*RED, 0)  # transparent region: white, whatever colour it stores
    rgba[:, 8:] = (*BLUE, 255)
    _save(tmp_path / "3_rgba.png", Image.fromarray(rgba, "RGBA"))

    ds = image_folder_dataset(
        tmp_path, image_size=16, batch_size=3, value_range=(0.0, 1.0), training=False
    )
    assert ds.element_spec.shape.as_list() == [3, 16, 16, 3]
    grey_png, grey_jpg, rgb = _as_uint8(_batches(ds), (0.0, 1.0))
    np.testing.assert_array_equal(grey_png, np.repeat(grey[..., None], 3, axis=-1))
    for c in range(3):  # grey JPEG: three equal channels
        np.testing.assert_array_equal(grey_jpg[..., c], grey_jpg[..., 0])
    # Lossy, so compare to Pillow's decoding: equal with the accurate IDCT
    # (TensorFlow's default one is up to 5 levels off at this quality).
    decoded = np.asarray(Image.open(tmp_path / "2_grey.jpg"))
    np.testing.assert_array_equal(grey_jpg[..., 0], decoded)
    np.testing.assert_array_equal(rgb[:, :8], np.full((16, 8, 3), 255))
    np.testing.assert_array_equal(rgb[:, 8:], rgba[:, 8:, :3])


def _bad_folder(root: Path) -> tuple[list[Path], list[Path]]:
    """Five good images and three bad files: zero bytes, text, truncated JPEG."""
    good = [_save(root / f"good{i}.png", _noise(16, seed=i)) for i in range(5)]
    buffer = io.BytesIO()
    Image.fromarray(_noise(64)).save(buffer, format="JPEG", quality=95)
    jpeg = buffer.getvalue()
    bad = [root / "sub" / "empty.jpg", root / "text.jpg", root / "truncated.jpg"]
    bad[0].parent.mkdir(parents=True)
    bad[0].write_bytes(b"")
    bad[1].write_text("this is not a JPEG\n" * 20)
    bad[2].write_bytes(jpeg[: len(jpeg) // 2])
    return good, bad


@pytest.mark.parametrize("check", ["header", "full"])
def test_bad_files_are_skipped_counted_and_warned_once(
    tmp_path: Path, check: str
) -> None:
    good, bad = _bad_folder(tmp_path)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds, info = image_folder_dataset(
            tmp_path, image_size=16, batch_size=5, check=check, seed=0, return_info=True
        )
        images = _batches(ds)
    messages = _skip_warnings(record)
    assert len(messages) == 1, messages
    assert "3 of 8" in messages[0]
    assert all(str(p) in messages[0] for p in bad)
    assert images.shape == (5, 16, 16, 3)
    assert info.scan.skipped == sorted(str(p) for p in bad)
    assert set(info.scan.reasons) == set(info.scan.skipped)
    assert info.files == sorted(str(p) for p in good)
    assert info.decode_failures == []  # nothing got past the scan
    assert info.num_skipped == 3 and ds.folder_info is info


def test_files_failing_in_tensorflow_are_dropped_and_counted(tmp_path: Path) -> None:
    # check="none" sends the bad files into the pipeline: decoding them fails in
    # TensorFlow, which must drop them, not stop, and record which they were.
    good, bad = _bad_folder(tmp_path)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds, info = image_folder_dataset(
            tmp_path,
            image_size=16,
            batch_size=1,
            check="none",
            training=False,
            return_info=True,
        )
        assert info.decode_failures is None  # not known before a full pass
        assert _skip_warnings(record) == []
        first = _batches(ds)
        second = _batches(ds)  # from the cache
    expected = [np.asarray(Image.open(p)) for p in good]
    np.testing.assert_array_equal(_as_uint8(first), expected)
    np.testing.assert_array_equal(second, first)
    assert info.decode_failures == sorted(str(p) for p in bad)
    assert info.num_skipped == 3 and info.num_images == 5
    messages = _skip_warnings(record)
    assert len(messages) == 1 and "3 of 8" in messages[0], messages


def test_header_check_rejects_formats_tensorflow_cannot_read(tmp_path: Path) -> None:
    _save(tmp_path / "ok.jpg", _solid(RED))
    _save(tmp_path / "tiff_named.jpg", _solid(RED), format="TIFF")
    _save(tmp_path / "palette.bmp", Image.fromarray(_noise(16)).quantize(16))
    with pytest.warns(SkippedImagesWarning, match="2 of 3"):
        scan = scan_image_folder(tmp_path)
    assert [Path(p).name for p in scan.files] == ["ok.jpg"]
    assert "TIFF" in scan.reasons[str(tmp_path / "tiff_named.jpg")]
    assert "BMP" in scan.reasons[str(tmp_path / "palette.bmp")]
    # A JPEG with data after its end marker (as some cameras write) is fine.
    buffer = io.BytesIO()
    Image.fromarray(_noise(16)).save(buffer, format="JPEG")
    (tmp_path / "trailer.jpg").write_bytes(buffer.getvalue() + b"SEFT" * 40)
    with pytest.warns(SkippedImagesWarning, match="2 of 4"):
        assert str(tmp_path / "trailer.jpg") in scan_image_folder(tmp_path).files
    with pytest.raises(ValueError, match="check"):
        scan_image_folder(tmp_path, check="thorough")


# --------------------------------------------------------------------------- #
# Output
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_output_shapes_dtypes_and_value_range(tmp_path: Path, name: str) -> None:
    black_and_white = np.zeros((24, 24, 3), np.uint8)
    black_and_white[:, 12:] = 255
    for i in range(4):
        _save(tmp_path / f"{i}.png", black_and_white)
    low, high = VALUE_RANGES[name]
    ds = image_folder_dataset(
        tmp_path, image_size=12, batch_size=2, value_range=VALUE_RANGES[name], seed=0
    )
    assert ds.element_spec == tf.TensorSpec([2, 12, 12, 3], tf.float32)
    images = _batches(ds)
    assert images.shape == (4, 12, 12, 3) and images.dtype == np.float32
    assert images.min() == low and images.max() == high


def test_resize_and_centre_crop_of_a_wide_photo(tmp_path: Path) -> None:
    wide = np.zeros((40, 120, 3), np.uint8)
    wide[:, :40], wide[:, 40:80], wide[:, 80:] = RED, GREEN, BLUE
    _save(tmp_path / "wide.png", wide)
    ds = image_folder_dataset(tmp_path, image_size=10, batch_size=1, training=False)
    (image,) = _as_uint8(_batches(ds))
    assert image.shape == (10, 10, 3)
    np.testing.assert_allclose(
        image[:, 1:-1], np.broadcast_to(GREEN, (10, 8, 3)), atol=1
    )
    assert np.abs(image.astype(int) - GREEN).max() < 40  # edges: a little blur only


def test_drop_remainder(tmp_path: Path) -> None:
    for i in range(10):
        _save(tmp_path / f"{i:02d}.png", _noise(8, seed=i))
    ds = image_folder_dataset(tmp_path, image_size=8, batch_size=4, seed=0)
    assert [b.shape[0] for b in ds] == [4, 4]


def test_flip_and_order_deterministic_for_a_seed(tmp_path: Path) -> None:
    ramp = np.zeros((8, 8, 3), np.uint8)
    ramp[..., 0] = np.arange(0, 256, 32, dtype=np.uint8)[None, :]  # dark -> bright
    for i in range(16):
        ramp[..., 1] = i * 10  # identifies the file
        _save(tmp_path / f"{i:02d}.png", ramp)

    def run(**kwargs: object) -> np.ndarray:
        ds = image_folder_dataset(tmp_path, image_size=8, batch_size=16, **kwargs)
        return _as_uint8(_batches(ds))

    first = run(seed=7)
    flipped = first[:, 0, 0, 0] > first[:, 0, -1, 0]
    assert 0 < flipped.sum() < 16
    assert sorted(first[:, 0, 0, 1] // 10) == list(range(16))
    np.testing.assert_array_equal(run(seed=7), first)
    evaluation = run(training=False)
    assert not (evaluation[:, 0, 0, 0] > evaluation[:, 0, -1, 0]).any()
    assert list(evaluation[:, 0, 0, 1] // 10) == list(range(16))  # sorted order


def test_cache_to_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(6):
        _save(data / f"{i}.png", _noise(16, seed=i))
    cache_dir = tmp_path / "cache"
    kwargs = dict(batch_size=3, training=False, cache=str(cache_dir / "rooms"))
    ds, info = image_folder_dataset(data, image_size=16, return_info=True, **kwargs)
    first = _batches(ds)
    assert info.cache_path is not None and info.cache_path.startswith(
        str(cache_dir / "rooms")
    )
    assert Path(info.cache_path + ".index").exists()
    np.testing.assert_array_equal(_batches(ds), first)  # second epoch, from the file
    # Another image size gets its own cache file, never the stale one.
    ds8, info8 = image_folder_dataset(data, image_size=8, return_info=True, **kwargs)
    assert info8.cache_path != info.cache_path
    assert _batches(ds8).shape == (6, 8, 8, 3)


def test_inferred_labels(tmp_path: Path) -> None:
    colours = {"bedroom": RED, "kitchen": GREEN, "attic": BLUE}
    counts = {"bedroom": 3, "kitchen": 2, "attic": 1}
    for name, n in counts.items():
        for i in range(n):
            sub = tmp_path / name / ("nested" if name == "kitchen" else "")
            _save(sub / f"{i}.png", _solid(colours[name], 8))
    _save(tmp_path / "loose.png", _solid(GREY, 8))  # in no class folder

    with pytest.warns(SkippedImagesWarning, match="no class"):
        ds, info = image_folder_dataset(
            tmp_path,
            image_size=8,
            batch_size=6,
            labels="inferred",
            seed=0,
            return_info=True,
        )
    assert info.class_names == ["attic", "bedroom", "kitchen"]
    assert ds.element_spec[1] == tf.TensorSpec([6], tf.int32)
    ((images, labels),) = [(x.numpy(), y.numpy()) for x, y in ds]
    assert sorted(labels.tolist()) == [0, 1, 1, 1, 2, 2]
    for image, label in zip(_as_uint8(images), labels):
        expected = colours[info.class_names[label]]
        np.testing.assert_array_equal(image[0, 0], expected)
    with pytest.raises(ValueError, match="labels"):
        image_folder_dataset(tmp_path, image_size=8, batch_size=2, labels="folders")  # type: ignore[arg-type]


def test_large_jpegs_are_decoded_at_reduced_scale(tmp_path):
    # A 256px JPEG read for a 64px model is decoded at 1/4 scale by libjpeg;
    # the result must match decoding in full and resizing, up to filtering.
    from PIL import Image as PILImage

    from keras_gen.data.folder import decode_rgb
    from keras_gen.data.pipeline import resize_and_center_crop

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    smooth = np.asarray(PILImage.fromarray(base).resize((256, 320), PILImage.BICUBIC))
    path = tmp_path / "big.jpg"
    PILImage.fromarray(smooth).save(path, quality=95)
    data = tf.io.read_file(str(path))
    reduced = decode_rgb(data, min_size=64)
    assert tuple(reduced.shape) == (80, 64, 3)  # 320x256 / 4
    assert tuple(decode_rgb(data, min_size=100).shape) == (160, 128, 3)  # / 2
    assert tuple(decode_rgb(data).shape) == (320, 256, 3)
    fast = resize_and_center_crop(reduced, 64).numpy()
    full = resize_and_center_crop(decode_rgb(data), 64).numpy()
    assert np.abs(fast - full).mean() < 3.0
