"""The Wasserstein GAN and its compiled training step.

`WGAN.train_step(iterator)` is one generator iteration of Algorithm 1 of Arjovsky, Chintala and
Bottou (2017) as a single `tf.function`: `n_critic` critic updates, each on a fresh real batch
drawn from the iterator inside the function and a fresh fake batch, each followed by clipping
every critic weight to [-clip_value, clip_value]; then one generator update. With
`loss="wgan-gp"` the clipping is replaced by the gradient penalty of Gulrajani et al. (2017).
With `ema > 0` the step also updates an exponential moving average of the generator's weights
(Yazici et al. 2019), whose images are smoother and steadier than the raw generator's. No network
ever ran with the averaged weights, so the average's batch-norm statistics are measured on it
(standing statistics, Brock et al. 2019) whenever `sampler` is asked for after training steps.

Real and fake batches go through a batch-normalised critic in separate calls, as in the
paper's code, so its batch norm sees statistics of one kind of image at a time; a critic without
batch norm (layer norm for WGAN-GP) scores both in one call, which is the same and faster. Under a
`tf.distribute` strategy each replica takes its share of every batch, gradients are summed
across replicas by the optimizers, and clipping runs once on the mirrored weights.

A conditional WGAN (`views` given: a generator and a critic taking view ids beside their
inputs, see `generator.networks`) reads (images, view_ids) batches: every fake batch of a
critic update is drawn for the real batch's views, and the generator update draws views
uniformly from the trained ones.
"""

import keras
import numpy as np
import tensorflow as tf

LOSSES = ("wgan", "wgan-gp")
STATISTICS_BATCHES = 4  # x STATISTICS_BATCH latents measure the averaged generator's batch norm
STATISTICS_BATCH = 64


class WGAN:
    """Generator, critic, their optimizers and the compiled step that trains them.

    The metrics a step returns (means over its critic updates): `critic_loss_real` =
    -mean f(x) on real images, `critic_loss_fake` = mean f(G(z)), `wasserstein` = their negated
    sum, the critic's estimate of the Wasserstein distance (up to the Lipschitz constant);
    `gradient_penalty` (0 for clipping); `generator_loss` = -mean f(G(z)) of the generator update.
    """

    def __init__(self, generator, critic, generator_optimizer, critic_optimizer, latent_dim,
                 loss="wgan", n_critic=5, clip_value=0.01, gp_weight=10.0, strategy=None,
                 jit=False, ema=0.0, views=None):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
        if n_critic < 1:
            raise ValueError(f"n_critic must be at least 1, not {n_critic}")
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), not {ema}")
        self.generator, self.critic = generator, critic
        self.generator_optimizer, self.critic_optimizer = generator_optimizer, critic_optimizer
        self.latent_dim, self.loss, self.n_critic = latent_dim, loss, n_critic
        self.clip_value, self.gp_weight = clip_value, gp_weight
        self.strategy = strategy or tf.distribute.get_strategy()
        self.ema = ema
        self.views = list(views) if views else None
        self.mixes_samples = any(isinstance(layer, keras.layers.BatchNormalization)
                                 for layer in critic.layers)
        self.ema_generator = None
        if ema:
            with self.strategy.scope():
                self.ema_generator = keras.models.clone_model(generator)
                self.ema_generator.set_weights(generator.get_weights())
                self.ema_updates = tf.Variable(0, dtype=tf.int64, trainable=False,
                                               name="ema_updates")
            self._measure_statistics, self._measured_at = None, None
        replica_options = {"jit_compile": True} if jit else {}
        self._critic_update = tf.function(self._critic_update_fn, **replica_options)
        self._generator_update = tf.function(self._generator_update_fn, **replica_options)
        self.train_step = tf.function(self._train_step_fn)

    def build(self):
        """Create the optimizers' slot variables (so a checkpoint can restore them at once) and,
        for clipping, start the critic inside the clipping box."""
        with self.strategy.scope():
            self.generator_optimizer.build(self.generator.trainable_variables)
            self.critic_optimizer.build(self.critic.trainable_variables)
            if self.loss == "wgan":
                self.clip_critic()

    def _scaled(self, optimizer, loss):
        """The replica's share of the loss, times the loss scale under float16 (else 1)."""
        return optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)

    def generator_inputs(self, batch, view_ids=None):
        """Fresh latents for `batch` images, with `view_ids` (default: views drawn uniformly
        from the trained ones) when the WGAN is conditional."""
        latents = tf.random.normal((batch, self.latent_dim))
        if self.views is None:
            return latents
        if view_ids is None:
            view_ids = tf.random.uniform((batch,), 0, len(self.views), dtype=tf.int32)
        return [latents, view_ids]

    def _critic_update_fn(self, real):
        real, view_ids = real if self.views is not None else (real, None)
        batch = tf.shape(real)[0]
        fake = self.generator(self.generator_inputs(batch, view_ids), training=True)
        fake = tf.stop_gradient(tf.cast(fake, real.dtype))
        variables = self.critic.trainable_variables
        with tf.GradientTape() as tape:
            real_score, fake_score = self._scores(real, fake, view_ids)
            penalty = (self._gradient_penalty(real, fake, view_ids) if self.loss == "wgan-gp"
                       else 0.0)
            loss = fake_score - real_score + self.gp_weight * penalty
            scaled_loss = self._scaled(self.critic_optimizer, loss)
        gradients = tape.gradient(scaled_loss, variables)
        self.critic_optimizer.apply_gradients(zip(gradients, variables))
        return tf.stack([-real_score, fake_score, tf.cast(penalty, tf.float32)])

    def _critic_scores(self, images, view_ids=None):
        """The critic's scores of `images` (of `view_ids`, conditional) in training mode as
        float32."""
        inputs = images if view_ids is None else [images, view_ids]
        return tf.cast(self.critic(inputs, training=True), tf.float32)

    def _scores(self, real, fake, view_ids=None):
        """Mean critic scores (float32) of the real and the fake batch (both of `view_ids`)."""
        if self.mixes_samples:
            return (tf.reduce_mean(self._critic_scores(real, view_ids)),
                    tf.reduce_mean(self._critic_scores(fake, view_ids)))
        batch = tf.shape(real)[0]
        both = None if view_ids is None else tf.concat([view_ids, view_ids], 0)
        scores = self._critic_scores(tf.concat([real, fake], 0), both)
        return tf.reduce_mean(scores[:batch]), tf.reduce_mean(scores[batch:])

    def _gradient_penalty(self, real, fake, view_ids=None):
        alpha = tf.random.uniform((tf.shape(real)[0], 1, 1, 1), 0.0, 1.0, dtype=real.dtype)
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self._critic_scores(mixed, view_ids)
        gradients = tf.cast(tape.gradient(scores, mixed), tf.float32)
        norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean(tf.square(norms - 1.0))

    def _generator_update_fn(self, batch):
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            inputs = self.generator_inputs(batch)
            fake = self.generator(inputs, training=True)
            loss = -tf.reduce_mean(self._critic_scores(
                fake, None if self.views is None else inputs[1]))
            scaled_loss = self._scaled(self.generator_optimizer, loss)
        gradients = tape.gradient(scaled_loss, variables)
        self.generator_optimizer.apply_gradients(zip(gradients, variables))
        return loss

    @property
    def sampler(self):
        """The generator to draw images with: the moving average when `ema` is on, its
        batch-norm statistics measured after the latest update."""
        if self.ema_generator is None:
            return self.generator
        updates = int(self.ema_updates.numpy())
        if self._measured_at != updates:
            self.measure_statistics()
            self._measured_at = updates
        return self.ema_generator

    def _update_ema(self):
        """ema <- d * ema + (1 - d) * weights, for every trainable generator weight, with
        d = min(ema, (1 + n) / (10 + n)) after n updates so the average forgets the random
        start quickly. Batch-norm statistics are not averaged: `measure_statistics` sets them."""
        self.ema_updates.assign_add(1)
        count = tf.cast(self.ema_updates, tf.float32)
        decay = tf.minimum(self.ema, (1.0 + count) / (10.0 + count))
        for average, weight in zip(self.ema_generator.trainable_weights,
                                   self.generator.trainable_weights):
            average.assign(decay * average + (1.0 - decay) * tf.cast(weight, average.dtype))

    def measure_statistics(self, batches=STATISTICS_BATCHES, batch_size=STATISTICS_BATCH):
        """Set the moving mean and variance of every batch-norm layer of the averaged
        generator to the means of its batch statistics over `batches` training-mode batches
        of fresh latents (what its layers see when it draws a batch)."""
        layers = [layer for layer in self.ema_generator.layers
                  if isinstance(layer, keras.layers.BatchNormalization)]
        if not layers:
            return
        if self._measure_statistics is None:
            probe = keras.Model(self.ema_generator.inputs, [layer.input for layer in layers])
            self._measure_statistics = tf.function(lambda latents: [
                tf.nn.moments(tf.cast(x, tf.float32), list(range(len(x.shape) - 1)))
                for x in tf.nest.flatten(probe(latents, training=True))])
        per_batch = [[np.stack([mean.numpy(), variance.numpy()]) for mean, variance in
                      self._measure_statistics(self.generator_inputs(batch_size))]
                     for _ in range(batches)]
        for layer, moments in zip(layers, zip(*per_batch)):
            mean, variance = np.mean(moments, axis=0)
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)

    def clip_critic(self):
        """Clip every critic weight (batch norm's scale and offset too) to +-clip_value."""
        for variable in self.critic.trainable_variables:
            variable.assign(tf.clip_by_value(variable, -self.clip_value, self.clip_value))

    def _train_step_fn(self, iterator):
        strategy = self.strategy
        total = tf.zeros(3)
        for _ in range(self.n_critic):
            real = next(iterator)
            per_replica = strategy.run(self._critic_update, args=(real,))
            total += strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)
            if self.loss == "wgan":
                self.clip_critic()
        images = real if self.views is None else real[0]
        batch = tf.shape(strategy.experimental_local_results(images)[0])[0]
        generator_loss = strategy.reduce(tf.distribute.ReduceOp.MEAN,
                                         strategy.run(self._generator_update, args=(batch,)),
                                         axis=None)
        if self.ema_generator is not None:
            self._update_ema()
        real_loss, fake_loss, penalty = tf.unstack(total / self.n_critic)
        return {"critic_loss_real": real_loss, "critic_loss_fake": fake_loss,
                "wasserstein": -(real_loss + fake_loss), "gradient_penalty": penalty,
                "generator_loss": generator_loss}
