"""keras_gen.utils.images: image grids, the metrics CSV reader and plots."""

import numpy as np
import pytest
from PIL import Image

from keras_gen.utils.images import (
    plot_metrics,
    read_metrics_csv,
    save_image_grid,
    tile_images,
)


def test_tile_images_lays_images_out_row_by_row_on_white():
    images = np.stack([np.full((2, 3, 1), v, np.uint8) for v in (10, 20, 30)])
    grid = tile_images(images, columns=2, pad=1)
    # 2 rows x 2 columns of 2x3 images with 1 pixel of padding.
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1, 1) and grid.dtype == np.uint8
    assert (grid[1:3, 1:4] == 10).all() and (grid[1:3, 5:8] == 20).all()
    assert (grid[4:6, 1:4] == 30).all()
    assert (grid[4:6, 5:8] == 255).all()  # the empty cell stays white
    assert tile_images(images).shape[1] == 2 * (3 + 2) + 2  # ceil(sqrt(3)) cols
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        tile_images(images[0])


def test_save_image_grid_writes_a_pixel_exact_scaled_png(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (2, 2, 2, 3), np.uint8)
    path = save_image_grid(images, tmp_path / "sub" / "g.png", columns=2, scale=2)
    saved = np.asarray(Image.open(path))
    grid = tile_images(images, columns=2)
    np.testing.assert_array_equal(saved, grid.repeat(2, 0).repeat(2, 1))
    grey = save_image_grid(images[..., :1], tmp_path / "grey.png")
    assert Image.open(grey).mode == "L"


def test_read_metrics_csv_drops_columns_without_numbers(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss,val_loss,kl\n1,0.5,,NA\n2,0.25,,3\n")
    columns = read_metrics_csv(path)
    assert list(columns) == ["epoch", "loss", "kl"]
    assert columns["loss"] == [0.5, 0.25]
    assert np.isnan(columns["kl"][0]) and columns["kl"][1] == 3.0


def test_plot_metrics_writes_a_png_and_needs_a_metric(tmp_path):
    history = {"epoch": [1, 2], "loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}
    path = plot_metrics(history, tmp_path / "plots" / "m.png", title="run")
    assert Image.open(path).format == "PNG"
    with pytest.raises(ValueError, match="no metrics"):
        plot_metrics({"epoch": [1]}, tmp_path / "none.png")
