import numpy as np
import pytest
from PIL import Image

from keras_gen.interpolate import (
    interpolate,
    interpolation_latents,
    load_decoder,
    slerp,
)
from keras_gen.models.base import latents_from_seeds


def test_slerp_end_points_and_norm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    path = slerp(a, b, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, rtol=1e-5, atol=1e-6)
    # Between two vectors of equal norm, slerp keeps the norm; lerp shrinks it.
    b = b / np.linalg.norm(b) * np.linalg.norm(a)
    mid = slerp(a, b, 0.5)
    assert np.linalg.norm(mid) == pytest.approx(np.linalg.norm(a), rel=1e-5)
    assert np.linalg.norm((a + b) / 2) < 0.9 * np.linalg.norm(a)


def test_paths_start_and_end_at_the_seed_latents():
    z = interpolation_latents(16, [5, 9, 2], steps=4)
    assert z.shape == (2, 4, 16)
    ends = np.asarray(latents_from_seeds(np.array([5, 9, 2]), 16))
    np.testing.assert_allclose(z[0, 0], ends[0], atol=1e-6)
    np.testing.assert_allclose(z[0, -1], ends[1], atol=1e-6)
    np.testing.assert_allclose(z[1, -1], ends[2], atol=1e-6)
    with pytest.raises(ValueError, match="2 seeds"):
        interpolation_latents(16, [1], steps=4)


def test_grid_and_gif_from_a_keras_model(tmp_path):

    from keras_gen.models import GAN
    from keras_gen.models.gan.dcgan import (
        build_dcgan_discriminator,
        build_dcgan_generator,
    )

    gan = GAN(
        build_dcgan_generator(32, 16, 8, seed=0), build_dcgan_discriminator(32, 8)
    )
    gan.compile()
    gan.save(tmp_path / "g.keras")
    grid = interpolate(tmp_path / "g.keras", tmp_path / "grid.png", [3, 4, 5], steps=6)
    with Image.open(grid) as im:
        cells = np.asarray(im.convert("RGB"))
    # 2 rows x 6 columns of 32px images with 2px padding.
    assert cells.shape == (2 + 2 * 34, 2 + 6 * 34, 3)
    first = cells[2:34, 2:34]
    np.testing.assert_array_equal(first, gan.generate_uint8(1, seed=3)[0])
    gif = interpolate(tmp_path / "g.keras", tmp_path / "anim.gif", [3, 4, 5], steps=6)
    with Image.open(gif) as im:
        # 1 + 2 * 5 frames forward, then back without repeating the ends.
        assert im.n_frames == 11 + 9
    decode, latent_dim = load_decoder(tmp_path / "g.keras")
    assert latent_dim == 16 and decode.image_shape == (32, 32, 3)
    with pytest.raises(ValueError, match=".png or .gif"):
        interpolate(tmp_path / "g.keras", tmp_path / "x.jpg", [1, 2])
