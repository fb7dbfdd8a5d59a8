"""Run one `fit` step on 2 logical CPUs and on 1 device; print the weight gap.

Executed in a subprocess by the tests, because logical devices must be set up
before TensorFlow initialises its runtime.

Usage: python mirrored_equivalence.py {gan,vae,series_ae,series_vae} [loss]
    [--full|--ada|--conditional-critic|--fastgan-acgan] [--local-mean]

`--local-mean` swaps the global-batch reduction for a plain per-replica mean,
the bug the test exists to catch; the test checks that it is caught.
"""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_gen.models.gan.dcgan import (  # noqa: E402
    build_dcgan_discriminator,
    build_dcgan_generator,
)
from keras_gen.models.gan.fastgan import (  # noqa: E402
    build_fastgan_discriminator,
    build_fastgan_generator,
)
from keras_gen.models.gan.gan import GAN  # noqa: E402
from keras_gen.models.series import (  # noqa: E402
    SeriesAutoencoder,
    SeriesVAE,
    build_series_decoder,
    build_series_encoder,
)
from keras_gen.models.vae.networks import (  # noqa: E402
    build_vae_decoder,
    build_vae_encoder,
)
from keras_gen.models.vae.vae import VAE  # noqa: E402

GLOBAL_BATCH = 8
STEPS = 2


NUM_CLASSES = 3
SERIES = {"series_ae": SeriesAutoencoder, "series_vae": SeriesVAE}


def build(kind, loss, extras=None):
    extras = dict(extras or {})
    if kind == "gan":
        classes = extras.get("num_classes")
        fastgan = extras.pop("fastgan", False)
        class_head = extras.pop("class_head", False)
        build_g, build_d = (
            (build_fastgan_generator, build_fastgan_discriminator)
            if fastgan
            else (build_dcgan_generator, build_dcgan_discriminator)
        )
        model = GAN(
            build_g(32, 16, 8, synchronized_bn=True, num_classes=classes, seed=1),
            build_d(
                32,
                8,
                synchronized_bn=True,
                num_classes=classes,
                seed=2,
                class_head=class_head,
            ),
            loss=loss,
            seed=3,
            **extras,
        )
        if model.ada is not None:
            # Start mid-way so that the steps augment, and p moves both ways.
            model.ada.p.assign(0.5)
        # Plain SGD: its update is linear in the gradient, so a wrong
        # scaling (N times the update) shows up directly, whereas Adam
        # normalises the gradient's scale away.
        # With 3 critic updates per step and the sum-pooled class term, 0.05
        # drives the logits to ~10 and amplifies float rounding between the
        # runs chaotically (weight gap 6e-4 at 0.05, 6e-7 at 0.01, while a
        # wrong scaling shows at any rate).
        # FastGAN's reconstruction term (d_loss ~18 at init) and the class
        # head's cross-entropy on sum-pooled features (~5 at init) do the same.
        lr = 0.01 if extras.get("n_critic", 1) > 1 or fastgan or class_head else 0.05
        model.compile(
            d_optimizer=keras.optimizers.SGD(lr),
            g_optimizer=keras.optimizers.SGD(lr),
        )
    elif kind in SERIES:
        variational = kind == "series_vae"
        model = SERIES[kind](
            build_series_encoder(32, 2, 4, filters=8, variational=variational),
            build_series_decoder(32, 2, 4, filters=8),
            seed=3,
        )
        model.set_normalization([0.5, -0.5], [2.0, 0.5])
        model.compile(optimizer=keras.optimizers.SGD(0.05 if variational else 0.5))
    else:
        model = VAE(build_vae_encoder(32, 8, 8), build_vae_decoder(32, 8, 8), seed=3)
        model.compile(optimizer=keras.optimizers.SGD(1e-3))
    return model


def run(strategy, kind, loss, images, init_weights, extras=None):
    with strategy.scope():
        model = build(kind, loss, extras)
        if init_weights is not None:
            model.set_weights(init_weights)
    initial = [w.copy() for w in model.get_weights()]
    batch = GLOBAL_BATCH * (extras or {}).get("n_critic", 1)
    if (extras or {}).get("num_classes"):
        labels = np.arange(len(images)) % NUM_CLASSES
        data = tf.data.Dataset.from_tensor_slices((images, labels.astype("int32")))
    else:
        data = tf.data.Dataset.from_tensor_slices(images)
    data = data.batch(batch, drop_remainder=True)
    history = model.fit(data, epochs=1, steps_per_epoch=STEPS, verbose=0)
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    return initial, model.get_weights(), logs


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    kind = args[0]
    loss = args[1] if len(args) > 1 else "ns"
    extras = {}
    if "--full" in sys.argv:
        # EMA, DiffAugment and R1 on top of the loss.
        extras = {
            "ema_decay": 0.9,
            "augment": "color,translation,cutout",
            "augment_p": 0.5,
            "r1_gamma": 1.0,
        }
    if "--ada" in sys.argv:
        # Adaptive p adjusted after every step by up to 8 / 16 = 0.5: the
        # all-reduced sign statistic must give both runs the same p.
        extras = {
            "augment": "translation,cutout",
            "augment_p": "adaptive",
            "ada_interval": 1,
            "ada_speed_kimg": 0.016,
        }
    if "--conditional-critic" in sys.argv:
        # Class-conditional BN + projection discriminator, 3 critic updates.
        extras = {"num_classes": NUM_CLASSES, "n_critic": 3}
    if "--fastgan-acgan" in sys.argv:
        # Skip-layer excitation, GLU, the self-supervised discriminator (its
        # quadrant draws and decoder batch norm) and the AC-GAN class head
        # on 3 classes: one subprocess for both, to keep the suite short.
        extras = {"fastgan": True, "num_classes": NUM_CLASSES, "class_head": True}
    if "--local-mean" in sys.argv:
        from keras import ops

        from keras_gen.models import distributed
        from keras_gen.models.gan import gan as gan_module
        from keras_gen.models.series import autoencoder as series_module
        from keras_gen.models.vae import vae as vae_module

        def local_mean(per_example):
            return ops.mean(per_example)

        distributed.average_over_global_batch = local_mean
        gan_module.average_over_global_batch = local_mean
        vae_module.average_over_global_batch = local_mean
        series_module.average_over_global_batch = local_mean
    keras.utils.set_random_seed(0)
    low = -1.0 if kind == "gan" else 0.0
    shape = (32, 2) if kind in SERIES else (32, 32, 3)
    images = (
        np.random.default_rng(0)
        .uniform(low, 1.0, (GLOBAL_BATCH * STEPS * 3, *shape))
        .astype("float32")
    )
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    initial, w1, logs1 = run(one, kind, loss, images, None, extras)
    _, w2, logs2 = run(two, kind, loss, images, initial, extras)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(initial, w1))
    print(
        "RESULT "
        + json.dumps(
            {
                "replicas": two.num_replicas_in_sync,
                "max_weight_diff": diff,
                "max_update": moved,
                "logs_one": logs1,
                "logs_two": logs2,
            }
        )
    )


if __name__ == "__main__":
    main()
