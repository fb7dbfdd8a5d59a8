"""The `GAN` model: a generator and a discriminator trained with `fit`."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_gen.models.base import (
    GenerativeModel,
    deserialize_networks,
    images_from_data,
    labels_from_data,
)
from keras_gen.models.distributed import (
    average_over_global_batch,
    replica_normal,
    replica_uniform,
)
from keras_gen.models.gan.ada import (
    ADA_INTERVAL,
    ADA_SPEED_KIMG,
    ADA_TARGET,
    AdaptiveAugmentProbability,
)
from keras_gen.models.gan.augment import diff_augment, parse_policy
from keras_gen.models.gan.diversity import batch_diversity
from keras_gen.models.gan.losses import get_gan_loss


@keras.saving.register_keras_serializable(package="keras_gen")
class GAN(GenerativeModel):
    """Generative adversarial network with a custom `train_step`.

    One step updates the discriminator on a real batch and a generated batch,
    then the generator through the updated discriminator, reusing the same
    generated batch (as the reference DCGAN implementation does), which saves
    one generator forward pass per step. Losses are reduced over the global
    batch, so the step is the same on one device and on N replicas.

    With `n_critic` > 1 (WGAN-GP's usual 5), every batch holds `n_critic`
    chunks (rows i, i + n_critic, ...): the discriminator takes one update
    per chunk, each with fresh noise, then the generator one update through
    the last chunk; a step counts one generator update and `fit`'s batch
    size is `n_critic` times the per-update batch.

    A conditional GAN (`num_classes` set) has a generator taking `[z, label]`
    and a discriminator taking `[images, label]`; batches are
    `(images, labels)` and the fake images of a batch get the real labels, so
    the classes are generated as often as they occur in the data.

    The logs hold, besides the losses, the discriminator's accuracy on real
    and fake images and `diversity`: the spread of the generated batch
    (per-pixel standard deviation over the batch, averaged) divided by the
    real batch's. Mode collapse shows as `diversity` falling towards 0.

    Args:
        generator: model mapping `[batch, latent_dim]` to images in [-1, 1].
        discriminator: model mapping images to logits `[batch, ...]`, or to
            a dict of `logits` and `reconstruction_error` (self-supervised)
            and/or `class_logits` (AC-GAN head).
        loss: name of the loss, one of `keras_gen.models.gan.losses.GAN_LOSSES`
            ("ns", "hinge", "lsgan", "wgan-gp").
        gradient_penalty_weight: weight of the WGAN-GP penalty (used by
            "wgan-gp" only).
        ema_decay: keep an exponential moving average of the generator's
            weights with this decay (e.g. 0.999) in `ema_generator`, used by
            `generate`, the sample grids, evaluation and export. None: off.
        augment: DiffAugment policy applied to every discriminator input,
            e.g. "color,translation,cutout" (see `augment.POLICIES`). None: off.
        augment_p: probability that each augmentation is applied to each
            example: "adaptive" (ADA: adjusted from the discriminator's
            overfitting, logged as `augment_p`, saved with the model) or a
            fixed float in [0, 1]. 1 is DiffAugment's always-on, under which
            square blocks showed in the samples; keep a fixed p below 0.8.
        ada_target: ADA's target for E[sign(D(real))] (0.6).
        ada_interval: steps between ADA adjustments.
        ada_speed_kimg: thousands of images for ADA's p to cross [0, 1].
        r1_gamma: weight of the R1 penalty gamma/2 ||grad D(x)||^2 on real
            images, every step (0: off).
        n_critic: discriminator updates per generator update (chunks of
            each batch).
        reconstruction_weight: weight of the per-example reconstruction
            error of real images in D's loss, for a self-supervised
            discriminator (two outputs `[logits, error]`, e.g.
            `build_fastgan_discriminator`); unused otherwise.
        class_loss_weight: weight of the AC-GAN class losses (Odena et al.
            2017) for a discriminator with `class_logits` (`class_head=True`):
            D's cross-entropy on real images' labels, G's on its images'
            labels; unused otherwise.
        num_classes: number of classes of a conditional GAN (None:
            unconditional).
        class_names: names of the classes (saved with the model, used by
            `keras-gen sample --label NAME`); default "0", "1", ...
        seed: seed of the latent noise (None: random).

    Example:
    >>> from keras_gen.models.gan.dcgan import (
    ...     build_dcgan_generator, build_dcgan_discriminator)
    >>> gan = GAN(build_dcgan_generator(32, latent_dim=16, width=8),
    ...           build_dcgan_discriminator(32, width=8))
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> images = keras.random.uniform((8, 32, 32, 3), -1, 1)
    >>> history = gan.fit(images, batch_size=4, epochs=1, verbose=0)
    >>> gan.generate(2).shape
    (2, 32, 32, 3)
    """

    value_range = (-1.0, 1.0)

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: str = "ns",
        gradient_penalty_weight: float = 10.0,
        ema_decay: float | None = None,
        augment: str | None = None,
        augment_p: float | str = "adaptive",
        ada_target: float = ADA_TARGET,
        ada_interval: int = ADA_INTERVAL,
        ada_speed_kimg: float = ADA_SPEED_KIMG,
        r1_gamma: float = 0.0,
        n_critic: int = 1,
        reconstruction_weight: float = 1.0,
        class_loss_weight: float = 1.0,
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(n_critic) < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        self.n_critic = int(n_critic)
        self.num_classes, self.class_names = _check_classes(
            generator, num_classes, class_names
        )
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        if r1_gamma < 0:
            raise ValueError(f"r1_gamma must be >= 0, got {r1_gamma}")
        for key, value in (
            ("reconstruction_weight", reconstruction_weight),
            ("class_loss_weight", class_loss_weight),
        ):
            if value < 0:
                raise ValueError(f"{key} must be >= 0, got {value}")
        self.generator = generator
        self.discriminator = discriminator
        self.loss_name = loss
        self.gan_loss = get_gan_loss(loss)
        self.gradient_penalty_weight = gradient_penalty_weight
        self.seed = seed
        self.ema_decay = ema_decay
        self.r1_gamma = r1_gamma
        self.reconstruction_weight = float(reconstruction_weight)
        self.class_loss_weight = float(class_loss_weight)
        self._read_discriminator_outputs(discriminator)
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._init_augmentation(
            augment, augment_p, ada_target, ada_interval, ada_speed_kimg
        )
        self.ema_generator = None
        if ema_decay is not None:
            # The exponential moving average of the generator's weights gives
            # smoother, better samples than the last iterate; it is what
            # samples, evaluation and export use.
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        self._trackers = self._make_trackers()
        # Both sub-models are functional and already built; marking the GAN
        # built stops `fit` from calling it on an image batch to build it.
        self.built = True

    def _read_discriminator_outputs(self, discriminator):
        """Which extra outputs (FastGAN's error, AC-GAN's classes) D has."""
        outputs = discriminator.output
        names = set(outputs) if isinstance(outputs, dict) else set()
        self.self_supervised = "reconstruction_error" in names
        self.auxiliary_classifier = "class_logits" in names
        if self.auxiliary_classifier and not self.num_classes:
            raise ValueError("a discriminator with class_logits needs num_classes")

    def _init_augmentation(self, augment, augment_p, target, interval, speed_kimg):
        """DiffAugment's policy, its probability and the ADA controller."""
        self.augment = augment
        self.augment_policy = parse_policy(augment) if augment else ()
        self.augment_p = _check_augment_p(augment_p)
        self.ada_target = float(target)
        self.ada_interval = int(interval)
        self.ada_speed_kimg = float(speed_kimg)
        self.ada = None
        if self.augment_policy and self.augment_p == "adaptive":
            self.ada = AdaptiveAugmentProbability(
                target, interval, speed_kimg, name="ada"
            )
        # A separate stream for augmentation keeps the latent noise identical
        # with and without DiffAugment.
        self.augment_seed_generator = keras.random.SeedGenerator(
            None if self.seed is None else self.seed + 1
        )

    def _make_trackers(self) -> dict:
        names = [
            "d_loss",
            "g_loss",
            "real_score",
            "fake_score",
            "real_accuracy",
            "fake_accuracy",
            "diversity",
        ]
        if self.gan_loss.gradient_penalty:
            names.append("gradient_penalty")
        if self.r1_gamma > 0:
            names.append("r1_penalty")
        if self.self_supervised:
            names.append("reconstruction")
        if self.auxiliary_classifier:
            names += ["d_class_loss", "g_class_loss"]
        return {name: keras.metrics.Mean(name=name) for name in names}

    def decode_latents(self, z, training=False):
        """Images from latents `z`, or from `[z, labels]` for a conditional GAN."""
        conditional = isinstance(z, (list, tuple))
        if conditional != bool(self.num_classes):
            raise ValueError(
                "a conditional GAN decodes [z, labels]"
                if self.num_classes
                else "an unconditional GAN decodes z alone, not [z, labels]"
            )
        # Inference uses the averaged generator when there is one.
        if self.ema_generator is not None and not training:
            return self.ema_generator(z, training=False)
        return self.generator(z, training=training)

    def _conditioned(self, x, labels):
        return x if labels is None else [x, labels]

    def _augment(self, images):
        if not self.augment_policy:
            return images
        p = self.ada.p.value if self.ada is not None else self.augment_p
        return diff_augment(
            images, self.augment_policy, self.augment_seed_generator, p=p
        )

    def _boundary(self) -> float:
        # LSGAN's targets are 0 and 1, so its boundary is 0.5; the others' is 0.
        return 0.5 if self.loss_name == "lsgan" else 0.0

    def _update_ema(self):
        decay = self.ema_decay
        for ema, weight in zip(self.ema_generator.weights, self.generator.weights):
            if weight.trainable:
                ema.assign(decay * ema + (1.0 - decay) * weight)
            else:  # batch-norm statistics are copied, not averaged
                ema.assign(weight)

    # ------------------------------------------------------------------ compile
    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Configure training.

        Args:
            d_optimizer: optimizer of the discriminator (default Adam 2e-4,
                beta_1 0.5, as DCGAN).
            g_optimizer: optimizer of the generator (same default).
            **kwargs: passed to `keras.Model.compile` (e.g. `steps_per_execution`).
        """
        # Without optimizer=None Keras would create, build and save an unused
        # RMSprop optimizer.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = keras.optimizers.get(
            d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        )
        self.g_optimizer = keras.optimizers.get(
            g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        )
        # Built here, i.e. inside the caller's strategy scope: a lazily built
        # second optimizer fails under MirroredStrategy in Keras 3.15, and an
        # unbuilt one is silently skipped when a checkpoint is restored.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if not hasattr(self, "d_optimizer"):
            return {}  # never compiled: saved without optimizers
        config = {
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
        }
        if getattr(self, "_compile_config", None) is not None:
            extra = self._compile_config.serialize()
            config["steps_per_execution"] = extra.get("steps_per_execution", 1)
        return config

    def compile_from_config(self, config):
        if not config:
            return
        self.compile(
            d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
            g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
            steps_per_execution=config.get("steps_per_execution", 1),
        )

    # ------------------------------------------------------------------ steps
    def discriminate(self, images, labels=None, training=False) -> dict:
        """The discriminator's outputs as a dict: `logits`, and when it has them
        `reconstruction_error` (self-supervised, e.g. FastGAN's) and
        `class_logits` (AC-GAN head)."""
        outputs = self.discriminator(
            self._conditioned(images, labels), training=training
        )
        return outputs if isinstance(outputs, dict) else {"logits": outputs}

    def _class_loss(self, outputs, labels):
        """Per-example cross-entropy of the AC-GAN head against `labels`."""
        return keras.losses.sparse_categorical_crossentropy(
            labels, ops.cast(outputs["class_logits"], "float32"), from_logits=True
        )

    def _scores(self, logits):
        logits = ops.cast(logits, "float32")
        if self.gan_loss.probabilistic:
            logits = ops.sigmoid(logits)
        return ops.mean(logits)

    def _accuracy(self, logits, real: bool):
        """Fraction of images the discriminator classifies correctly."""
        threshold = self._boundary()
        logits = ops.reshape(ops.cast(logits, "float32"), (ops.shape(logits)[0], -1))
        said_real = ops.mean(logits, axis=1) > threshold
        correct = said_real if real else ops.logical_not(said_real)
        return ops.mean(ops.cast(correct, "float32"))

    def _gradient_penalty(self, real, fake, labels=None):
        """Per-example (||grad_x D(x_hat)|| - 1)^2 at random interpolates."""
        batch = ops.shape(real)[0]
        alpha = replica_uniform((batch, 1, 1, 1), self.seed_generator)
        real = ops.cast(real, "float32")
        fake = ops.cast(fake, "float32")
        interpolates = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(interpolates)
            logits = self.discriminate(interpolates, labels, training=True)["logits"]
            logits = ops.sum(ops.cast(logits, "float32"))
        grads = tape.gradient(logits, interpolates)
        # The epsilon keeps the square root differentiable at a zero gradient.
        norms = ops.sqrt(ops.sum(ops.square(grads), axis=(1, 2, 3)) + 1e-12)
        return ops.square(norms - 1.0)

    def _r1_penalty(self, real, labels=None):
        """Per-example ||grad_x D(x)||^2 on real images (Mescheder et al. 2018)."""
        real = tf.cast(real, "float32")
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = self.discriminate(real, labels, training=True)["logits"]
            logits = ops.sum(ops.cast(logits, "float32"))
        grads = tape.gradient(logits, real)
        return ops.sum(ops.square(grads), axis=(1, 2, 3))

    def _discriminator_losses(self, real, fake, labels, training):
        real = self._augment(real) if training else real
        fake = self._augment(fake) if training else fake
        real_out = self.discriminate(real, labels, training)
        real_logits = real_out["logits"]
        fake_logits = self.discriminate(fake, labels, training)["logits"]
        per_example = self.gan_loss.discriminator(real_logits, fake_logits)
        logs = {
            "real_score": self._scores(real_logits),
            "fake_score": self._scores(fake_logits),
            # Divergence signals: a discriminator right on ~100% of both for
            # long has won (the generator gets no gradient); ~50% on both
            # with flat losses often means collapse or a dead discriminator.
            "real_accuracy": self._accuracy(real_logits, real=True),
            "fake_accuracy": self._accuracy(fake_logits, real=False),
        }
        if self.gan_loss.gradient_penalty:
            penalty = self._gradient_penalty(real, fake, labels)
            per_example = per_example + self.gradient_penalty_weight * penalty
            logs["gradient_penalty"] = ops.mean(penalty)
        if self.r1_gamma > 0 and training:
            # Every step: a lazy (every k steps) R1 needs a tf.cond around a
            # discriminator call, and batch norm's cross-replica updates are
            # not allowed inside control flow under MirroredStrategy.
            penalty = self._r1_penalty(real, labels)
            per_example = per_example + 0.5 * self.r1_gamma * penalty
            logs["r1_penalty"] = ops.mean(penalty)
        if self.self_supervised:
            # FastGAN: D must also describe the real images it sees.
            error = real_out["reconstruction_error"]
            per_example = per_example + self.reconstruction_weight * error
            logs["reconstruction"] = ops.mean(error)
        if self.auxiliary_classifier:
            # AC-GAN: D also learns the room type of real images (real only:
            # classifying fakes would reward D for the generator's mistakes).
            class_loss = self._class_loss(real_out, labels)
            per_example = per_example + self.class_loss_weight * class_loss
            logs["d_class_loss"] = ops.mean(class_loss)
        logs["d_loss"] = ops.mean(per_example)
        return per_example, logs, real_logits

    def _noise(self, batch):
        return replica_normal((batch, self.latent_dim), self.seed_generator)

    def _discriminator_update(self, real, fake, labels):
        """One discriminator update on a real and a (detached) fake batch."""
        with tf.GradientTape() as d_tape:
            d_per_example, logs, real_logits = self._discriminator_losses(
                real, ops.stop_gradient(fake), labels, training=True
            )
            d_loss = average_over_global_batch(d_per_example)
            # Identity unless the optimizer is a LossScaleOptimizer
            # (mixed_float16), whose `apply` unscales the gradients.
            d_loss = self.d_optimizer.scale_loss(d_loss)
        d_vars = self.discriminator.trainable_variables
        d_grads = d_tape.gradient(d_loss, d_vars)
        self.d_optimizer.apply(d_grads, d_vars)
        if self.ada is not None:
            # r_t is read from the reals as D saw them, augmented with the
            # current p, before any later update of this step.
            self.ada.observe(real_logits, self._boundary())
        return logs

    def train_step(self, data):
        real = images_from_data(data)
        labels = labels_from_data(data) if self.num_classes else None
        n = self.n_critic

        # Phase 1 (n_critic > 1 only): the extra discriminator updates, each
        # on its own chunk of the batch and fresh noise. Chunk i is rows
        # i, i + n, i + 2n, ...: strided chunks of the replicas' slices add
        # up to the strided chunks of the global batch, so N replicas update
        # on exactly the examples one device would. Unrolled in Python: a
        # tf.while_loop around batch norm is rejected under MirroredStrategy.
        for i in range(n - 1):
            chunk_labels = None if labels is None else labels[i::n]
            chunk = real[i::n]
            fake = self.generator(
                self._conditioned(self._noise(ops.shape(chunk)[0]), chunk_labels),
                training=True,
            )
            self._discriminator_update(chunk, fake, chunk_labels)
        if n > 1:
            real = real[n - 1 :: n]
            labels = None if labels is None else labels[n - 1 :: n]
        z = self._noise(ops.shape(real)[0])

        with tf.GradientTape() as g_tape:
            fake = self.generator(self._conditioned(z, labels), training=True)

            # Phase 2: discriminator update on real and (detached) fake images.
            # The generator's tape is paused so it does not record D's update.
            with g_tape.stop_recording():
                logs = self._discriminator_update(real, fake, labels)

            # Phase 3: generator update through the updated discriminator,
            # reusing the generated batch of phase 2.
            fake_out = self.discriminate(self._augment(fake), labels, training=True)
            g_per_example = self.gan_loss.generator(fake_out["logits"])
            if self.auxiliary_classifier:
                # AC-GAN: images of a label must be classified as that label.
                g_class = self._class_loss(fake_out, labels)
                g_per_example = g_per_example + self.class_loss_weight * g_class
            g_loss = self.g_optimizer.scale_loss(
                average_over_global_batch(g_per_example)
            )
        g_vars = self.generator.trainable_variables
        g_grads = g_tape.gradient(g_loss, g_vars)
        self.g_optimizer.apply(g_grads, g_vars)
        if self.ema_generator is not None:
            self._update_ema()

        logs["g_loss"] = ops.mean(g_per_example)
        if self.auxiliary_classifier:
            logs["g_class_loss"] = ops.mean(g_class)
        logs["diversity"] = batch_diversity(fake, real)
        self._record(logs)
        return self._logs()

    def _logs(self):
        logs = super()._logs()
        if self.augment_policy:
            p = self.ada.p.value if self.ada is not None else self.augment_p
            # The current value, not an epoch mean: what a resumed run starts from.
            p = ops.convert_to_tensor(p, "float32")
            any_log = next(iter(logs.values()))
            logs["augment_p"] = ops.reshape(p, ops.shape(any_log))
        return logs

    def test_step(self, data):
        real = images_from_data(data)
        labels = labels_from_data(data) if self.num_classes else None
        fake = self.generator(
            self._conditioned(self._noise(ops.shape(real)[0]), labels), training=False
        )
        _, logs, _ = self._discriminator_losses(real, fake, labels, training=False)
        fake_out = self.discriminate(fake, labels, training=False)
        logs["g_loss"] = ops.mean(self.gan_loss.generator(fake_out["logits"]))
        if self.auxiliary_classifier:
            logs["g_class_loss"] = ops.mean(self._class_loss(fake_out, labels))
        logs["diversity"] = batch_diversity(fake, real)
        self._record(logs)
        return self._logs()

    # ------------------------------------------------------------ serialization
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.layers.serialize(self.generator),
                "discriminator": keras.layers.serialize(self.discriminator),
                "loss": self.loss_name,
                "gradient_penalty_weight": self.gradient_penalty_weight,
                "ema_decay": self.ema_decay,
                "augment": self.augment,
                "augment_p": self.augment_p,
                "ada_target": self.ada_target,
                "ada_interval": self.ada_interval,
                "ada_speed_kimg": self.ada_speed_kimg,
                "r1_gamma": self.r1_gamma,
                "n_critic": self.n_critic,
                "reconstruction_weight": self.reconstruction_weight,
                "class_loss_weight": self.class_loss_weight,
                "num_classes": self.num_classes,
                "class_names": (
                    None if self.class_names is None else list(self.class_names)
                ),
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = deserialize_networks(config, "generator", "discriminator")
        # Models saved before ADA augmented every example (p = 1).
        config.setdefault("augment_p", 1.0)
        return cls(**config)


def _check_augment_p(augment_p):
    """ "adaptive" or a float in [0, 1]."""
    if augment_p == "adaptive":
        return augment_p
    try:
        value = float(augment_p)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"augment_p must be 'adaptive' or a number in [0, 1], got {augment_p!r}"
        )
    return value


def _check_classes(generator, num_classes, class_names):
    """Validated `(num_classes, class_names)` of a GAN (both None if unconditional)."""
    takes_label = len(generator.inputs) > 1
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if num_classes is None:
            num_classes = len(class_names)
        if len(class_names) != num_classes:
            raise ValueError(
                f"class_names has {len(class_names)} names for {num_classes} classes"
            )
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"class_names has repeated names: {class_names}")
    if num_classes is None:
        if takes_label:
            raise ValueError(
                "the generator takes [z, label]: give num_classes (or class_names)"
            )
        return None, None
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if not takes_label:
        raise ValueError(
            f"num_classes={num_classes} needs a conditional generator taking "
            "[z, label] (build it with num_classes)"
        )
    num_classes = int(num_classes)
    return num_classes, tuple(class_names or [str(i) for i in range(num_classes)])
