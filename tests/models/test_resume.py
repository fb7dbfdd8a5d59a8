"""An interrupted fit, resumed with BackupAndRestore, ends like an uninterrupted one."""

import keras
import numpy as np
import pytest

from keras_gen.models import GAN, VAE
from keras_gen.models.gan.dcgan import build_dcgan_discriminator, build_dcgan_generator
from keras_gen.models.vae.networks import build_vae_decoder, build_vae_encoder


def make(kind):
    keras.utils.set_random_seed(0)
    if kind == "gan":
        model = GAN(
            build_dcgan_generator(32, 16, 8, seed=1),
            build_dcgan_discriminator(32, 8, seed=2),
            seed=3,
        )
        model.compile()
    else:
        model = VAE(build_vae_encoder(32, 8, 8), build_vae_decoder(32, 8, 8), seed=3)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_resume_matches_uninterrupted_run(kind, tmp_path):
    low = -1.0 if kind == "gan" else 0.0
    x = np.random.default_rng(0).uniform(low, 1, (32, 32, 32, 3)).astype("float32")
    fit = dict(batch_size=8, epochs=4, shuffle=False, verbose=0)
    backup = str(tmp_path / "backup")

    crashed = make(kind)
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashed.fit(
            x, callbacks=[keras.callbacks.BackupAndRestore(backup), Crash()], **fit
        )

    resumed = make(kind)
    resumed.fit(x, callbacks=[keras.callbacks.BackupAndRestore(backup)], **fit)
    reference = make(kind)
    reference.fit(x, **fit)

    optimizers = ("d_optimizer", "g_optimizer") if kind == "gan" else ("optimizer",)
    for name in optimizers:
        # 4 epochs x 4 steps: the resumed run did only the 2 missing epochs.
        assert int(getattr(resumed, name).iterations) == 16
    # Noise state, optimizer moments and weights all restored: the same run.
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
