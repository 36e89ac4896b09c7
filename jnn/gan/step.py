"""Pure GAN updates: k discriminator steps, then one generator step, in one jit.

`make_step` returns `step(gan_state, data) -> (gan_state, metrics)`. `data` is
the whole real data set as one device array (N, *x_shape); each
discriminator update draws its own real batch from it with the step's key, so
the host loop only calls the step. Research code can use the two halves from
`make_updates` directly.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn import _checks
from jnn._types import Layer
from jnn.gan import losses
from jnn.gan.state import GANState
from jnn.runs.mesh import ONE_DEVICE, Placement
from jnn.train.state import typed_key
from jnn.train.step import guarded_update


class StepOptions(NamedTuple):
    batch_size: int  # real and fake examples per update
    latent_dim: int  # size of the noise vector z ~ N(0, I)
    loss: str = "non_saturating"  # non_saturating | minimax | wasserstein
    d_steps: int = 1  # discriminator updates per generator update
    label_smoothing: float = 0.0  # one-sided: real targets 1 - this
    gp_weight: float = 10.0  # wasserstein only: gradient-penalty weight
    guard_nonfinite: bool = False  # skip non-finite updates and report them


def check_options(options: StepOptions) -> StepOptions:
    """Validate `options` eagerly, before anything is traced.

    Raises:
      ValueError: for a size or `d_steps` that is not > 0, an unknown loss,
        smoothing outside [0, 0.5) or a negative `gp_weight`.
      TypeError: for a size that is not an int.
    """
    where = "gan step"
    _checks.positive_int(where, "batch_size", options.batch_size)
    _checks.positive_int(where, "latent_dim", options.latent_dim)
    _checks.positive_int(where, "d_steps", options.d_steps)
    _checks.one_of(where, "loss", options.loss, losses.NAMES)
    _checks.finite_float(where, "label_smoothing", options.label_smoothing, 0.0, 0.49)
    _checks.finite_float(where, "gp_weight", options.gp_weight, 0.0)
    return options


def noise(key: jax.Array, options: StepOptions) -> jax.Array:
    """Latent batch z ~ N(0, I), shape (batch_size, latent_dim)."""
    return jax.random.normal(key, (options.batch_size, options.latent_dim))


def _real_batch(key, data: jax.Array, batch_size: int) -> jax.Array:
    index = jax.random.randint(key, (batch_size,), 0, data.shape[0])
    return data[index]  # (N, *x) -> (B, *x), sampled with replacement


def make_updates(
    generator: Layer,
    discriminator: Layer,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    options: StepOptions,
    *,
    placement: Placement = ONE_DEVICE,
) -> tuple[Callable, Callable]:
    """Build `d_update(gs, data, key)` and `g_update(gs, key)`.

    Each returns `(gan_state, metrics)` and changes only its own model's
    params, state and optimizer state: the other model is applied but its
    new state is discarded and no gradient reaches its params. Neither
    advances `gs.step` (the full step does). On a mesh (`placement`), the
    real and noise batches they draw are split over its data axis.
    """
    options = check_options(options)
    parts = (generator, discriminator)
    d_update = _make_d_update(*parts, d_optimizer, options, placement.split)
    g_update = _make_g_update(*parts, g_optimizer, options, placement.split)
    return d_update, g_update


def _make_d_update(generator, discriminator, d_optimizer, options, split):
    b = options.batch_size

    def objective(d_params, gs, real, fake, keys):
        both = jnp.concatenate([real, fake])  # one call: state updates once
        logits, d_state = discriminator.apply(
            d_params, gs.d_state, both, key=keys[0], train=True
        )
        real_l, fake_l = logits[:b], logits[b:]
        per_example = losses.discriminator_loss(
            real_l, fake_l, loss=options.loss, label_smoothing=options.label_smoothing
        )
        if options.loss == "wasserstein" and options.gp_weight > 0:

            def critic(x):
                return discriminator.apply(
                    d_params, gs.d_state, x, key=keys[0], train=True
                )[0]

            penalty = losses.gradient_penalty(critic, real, fake, keys[1])
            per_example = per_example + options.gp_weight * penalty
        logs = {"d_real": jnp.mean(real_l), "d_fake": jnp.mean(fake_l)}
        return jnp.mean(per_example), (d_state, logs)

    def d_update(gs: GANState, data: jax.Array, key: jax.Array):
        z_key, index_key, g_key, d_key, gp_key = jax.random.split(key, 5)
        real = split(_real_batch(index_key, data, b))
        fake, _ = generator.apply(  # G's new state is discarded: D's update only
            gs.g_params, gs.g_state, split(noise(z_key, options)), key=g_key, train=True
        )
        fake = jax.lax.stop_gradient(fake)
        grad_fn = jax.value_and_grad(objective, has_aux=True)
        (loss, (d_state, logs)), grads = grad_fn(
            gs.d_params, gs, real, fake, (d_key, gp_key)
        )

        logs = {"d_loss": loss, **logs}
        old = (gs.d_params, gs.d_state, gs.d_opt)
        (d_params, d_state, d_opt), code = guarded_update(
            d_optimizer, loss, grads, old, d_state, options.guard_nonfinite
        )
        if code is not None:
            logs["nonfinite"] = code
        gs = gs._replace(d_params=d_params, d_state=d_state, d_opt=d_opt)
        return gs, logs

    return d_update


def _make_g_update(generator, discriminator, g_optimizer, options, split):
    def objective(g_params, gs, z, keys):
        fake, g_state = generator.apply(
            g_params, gs.g_state, z, key=keys[0], train=True
        )
        logits, _ = discriminator.apply(  # D's new state is discarded
            gs.d_params, gs.d_state, fake, key=keys[1], train=True
        )
        per_example = losses.generator_loss(logits, loss=options.loss)
        return jnp.mean(per_example), g_state

    def g_update(gs: GANState, key: jax.Array):
        z_key, g_key, d_key = jax.random.split(key, 3)
        grad_fn = jax.value_and_grad(objective, has_aux=True)
        (loss, g_state), grads = grad_fn(
            gs.g_params, gs, split(noise(z_key, options)), (g_key, d_key)
        )

        logs = {"g_loss": loss}
        old = (gs.g_params, gs.g_state, gs.g_opt)
        (g_params, g_state, g_opt), code = guarded_update(
            g_optimizer, loss, grads, old, g_state, options.guard_nonfinite
        )
        if code is not None:
            logs["nonfinite"] = code
        gs = gs._replace(g_params=g_params, g_state=g_state, g_opt=g_opt)
        return gs, logs

    return g_update


def make_step(
    generator: Layer,
    discriminator: Layer,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    options: StepOptions,
    *,
    placement: Placement = ONE_DEVICE,
) -> Callable[[GANState, jax.Array], tuple[GANState, dict]]:
    """Build the pure GAN step; jit it once (donating the state) and call it.

    Step `t` uses `key_t = fold_in(gs.key, t)`: discriminator update `i`
    (a `lax.scan` over `options.d_steps`) uses `fold_in(key_t, i)` and the
    generator update `fold_in(key_t, d_steps)`. Same seed, same data: the
    same run, bitwise, on the same machine.

    With `options.guard_nonfinite`, an update whose loss or gradients are
    not finite is skipped (that model keeps its params, state and optimizer
    state) and the metrics get `nonfinite`: -1 when all is finite, else the
    code of the first bad value over `params_tree(gs)` (as
    `jnn.train.step.make_train_step` reports it for one model).

    Returns:
      `step(gs, data) -> (gs, metrics)` with `data` (N, *x_shape) on device
      and metrics `d_loss`, `d_real`, `d_fake` (means over the d updates of
      the batch means of D's logits) and `g_loss`.

    Example:
      >>> import jax, jax.numpy as jnp, jax.random as jr, optax
      >>> from jnn.layers import dense
      >>> from jnn.gan.state import create
      >>> opt = optax.adam(1e-3)
      >>> options = StepOptions(batch_size=4, latent_dim=3)
      >>> step = jax.jit(make_step(dense(2), dense(1), opt, opt, options))
      >>> gs = create(dense(2), dense(1), opt, opt, jr.key(0),
      ...             z_spec=jnp.zeros((4, 3)), x_spec=jnp.zeros((4, 2)))
      >>> gs, m = step(gs, jnp.ones((10, 2)))
      >>> int(gs.step), sorted(m)
      (1, ['d_fake', 'd_loss', 'd_real', 'g_loss'])
    """
    d_update, g_update = make_updates(
        generator, discriminator, g_optimizer, d_optimizer, options, placement=placement
    )

    def step(gs: GANState, data: jax.Array):
        key = jax.random.fold_in(typed_key(gs.key), gs.step)

        def one_d_update(gs, i):
            return d_update(gs, data, jax.random.fold_in(key, i))

        gs, d_logs = jax.lax.scan(one_d_update, gs, jnp.arange(options.d_steps))
        gs, g_logs = g_update(gs, jax.random.fold_in(key, options.d_steps))
        d_codes = d_logs.pop("nonfinite", None)
        logs = {name: jnp.mean(v) for name, v in d_logs.items()} | g_logs
        if d_codes is not None:
            logs["nonfinite"] = _first_code(d_codes, logs["nonfinite"], gs.d_params)
        return gs._replace(step=gs.step + 1), logs

    return step


def _first_code(d_codes: jax.Array, g_code: jax.Array, d_params) -> jax.Array:
    """One step's non-finite code over the tree {"discriminator", "generator"}.

    Codes index `jax.tree.leaves` of that tree (see `jnn.train.numerics`):
    the discriminator's leaves come first, so a generator leaf's code is
    shifted by their number. 0 (a loss) and -1 (finite) stay as they are.
    """
    bad_d = d_codes >= 0
    first_d = d_codes[jnp.argmax(bad_d)]  # the first bad discriminator update
    shift = len(jax.tree.leaves(d_params))
    g_code = jnp.where(g_code > 0, g_code + shift, g_code)
    return jnp.where(jnp.any(bad_d), first_d, g_code)


def params_tree(gs: GANState) -> dict:
    """The tree a GAN step's non-finite codes index (see `_first_code`)."""
    return {"discriminator": gs.d_params, "generator": gs.g_params}
