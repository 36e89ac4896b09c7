"""Optimizers and schedules built from `OptimConfig`: convergence table, values."""

import dataclasses
import math
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from jnn._checks import JnnTypeError, JnnValueError
from jnn.train import optim
from jnn.train.optim import OptimConfig

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate


class Case(NamedTuple):
    name: str
    cfg: OptimConfig
    tol: float  # max |param - optimum| after `_STEPS` jitted steps


# Adam and RMSprop take near-sign-sized steps, so they reach a tight tolerance
# only as the cosine schedule anneals the rate to 0.
TABLE = (
    Case("sgd", OptimConfig(name="sgd", lr=0.07), 1e-5),
    Case("momentum", OptimConfig(name="sgd", lr=0.02, momentum=0.9), 1e-5),
    Case(
        "nesterov",
        OptimConfig(name="sgd", lr=0.02, momentum=0.9, nesterov=True),
        1e-5,
    ),
    Case("adam", OptimConfig(name="adam", lr=0.1, schedule="cosine"), 1e-5),
    # Decoupled decay moves the fixed point towards 0 by about 5e-5 here.
    Case("adamw", OptimConfig(name="adamw", lr=0.1, schedule="cosine"), 2e-4),
    Case("rmsprop", OptimConfig(name="rmsprop", lr=0.02, schedule="cosine"), 1e-5),
    Case("adagrad", OptimConfig(name="adagrad", lr=1.0), 1e-5),
)
_STEPS = 500

# Quadratic bowl 0.5 (w - c)^T A (w - c) with A = diag(1, 5, 25): condition 25.
_CURVATURE = jnp.array([1.0, 5.0, 25.0])
_CENTRE = jnp.array([1.0, -2.0, 0.5])

# Noise-free linear regression y = X w* + b*.
_X = jnp.asarray(np.random.default_rng(0).normal(size=(64, 3)), jnp.float32)
_W_STAR = jnp.array([1.5, -2.0, 0.5])
_B_STAR = jnp.array(0.3)
_Y = _X @ _W_STAR + _B_STAR


def _bowl(params):
    return 0.5 * jnp.sum(_CURVATURE * (params["weight"] - _CENTRE) ** 2)


def _regression(params):
    residual = _X @ params["weight"] + params["bias"] - _Y  # (64,)
    return 0.5 * jnp.mean(residual**2)


# name -> (loss, initial params, optimum)
PROBLEMS = {
    "bowl": (_bowl, {"weight": jnp.zeros(3)}, {"weight": _CENTRE}),
    "regression": (
        _regression,
        {"weight": jnp.zeros(3), "bias": jnp.zeros(())},
        {"weight": _W_STAR, "bias": _B_STAR},
    ),
}

_GRADS = {loss: jax.jit(jax.grad(loss)) for loss in (_bowl, _regression)}


def _step(opt, loss):
    # Only the optimizer runs eagerly in the eager test; the jitted gradient is
    # compiled once per problem, which keeps the table fast.
    grad = _GRADS[loss]

    def step(params, opt_state):
        grads = grad(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return step


def _trajectory(opt, loss, params, steps):
    """Run `steps` jitted steps in one `lax.scan`; return params after each."""
    step = _step(opt, loss)

    @jax.jit
    def run(params):
        def body(carry, _):
            carry = step(*carry)
            return carry, carry[0]

        return lax.scan(body, (params, opt.init(params)), length=steps)[1]

    return run(params)


def _max_error(params, optimum):
    errors = jax.tree.map(lambda p, q: jnp.max(jnp.abs(p - q)), params, optimum)
    return max(float(e) for e in jax.tree.leaves(errors))


_EAGER_STEPS = 3


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("case", TABLE, ids=[c.name for c in TABLE])
def test_converges_under_jit_and_eager_matches(case, problem):
    loss, params, optimum = PROBLEMS[problem]
    opt = optim.build(case.cfg, total_steps=_STEPS)
    path = _trajectory(opt, loss, params, _STEPS)  # leaves: (_STEPS, *shape)
    final = jax.tree.map(lambda p: p[-1], path)
    assert _max_error(params, optimum) > 0.2  # the start was far away
    assert _max_error(final, optimum) < case.tol
    # The first few steps, run eagerly, follow the jitted trajectory.
    step = _step(opt, loss)
    eager, opt_state = params, opt.init(params)
    for t in range(_EAGER_STEPS):
        eager, opt_state = step(eager, opt_state)
        jitted = jax.tree.map(lambda p, t=t: p[t], path)
        assert _max_error(eager, jitted) < 1e-5
    assert _max_error(eager, params) > 1e-3  # and they did move


def _lrs(cfg: OptimConfig, total_steps: int, steps) -> list[float]:
    sched = optim.schedule(cfg, total_steps)
    return [float(sched(jnp.asarray(t, jnp.int32))) for t in steps]


def test_constant_schedule_keeps_lr():
    cfg = OptimConfig(lr=0.3, schedule="constant")
    np.testing.assert_allclose(_lrs(cfg, 50, (0, 1, 49, 100)), [0.3] * 4)


def test_step_schedule_is_a_staircase():
    cfg = OptimConfig(lr=0.1, schedule="step", decay_steps=10, decay_rate=0.5)
    got = _lrs(cfg, 100, (0, 9, 10, 19, 20, 35))
    np.testing.assert_allclose(got, [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125], rtol=1e-6)


def test_exponential_schedule_is_smooth():
    cfg = OptimConfig(lr=0.1, schedule="exponential", decay_steps=10, decay_rate=0.5)
    got = _lrs(cfg, 100, (0, 5, 10, 25))
    want = [0.1, 0.1 * 0.5**0.5, 0.05, 0.1 * 0.5**2.5]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_cosine_schedule_ends_at_final_fraction():
    cfg = OptimConfig(lr=1.0, schedule="cosine", final_lr_fraction=0.1)
    # Half way, cos(pi/2) = 0: the midpoint of lr and final lr.
    got = _lrs(cfg, 100, (0, 50, 100, 150))
    np.testing.assert_allclose(got, [1.0, 0.55, 0.1, 0.1], rtol=1e-6, atol=1e-7)


def test_warmup_ramps_linearly_then_cosine_fills_the_rest():
    cfg = OptimConfig(lr=2.0, schedule="cosine", warmup_steps=10)
    got = _lrs(cfg, 110, (0, 5, 10, 60, 110))
    np.testing.assert_allclose(got, [0.0, 1.0, 2.0, 1.0, 0.0], atol=1e-6)


def test_step_decay_clock_starts_after_warmup():
    cfg = OptimConfig(
        lr=1.0, schedule="step", warmup_steps=4, decay_steps=10, decay_rate=0.5
    )
    np.testing.assert_allclose(_lrs(cfg, 100, (2, 4, 13, 14)), [0.5, 1.0, 1.0, 0.5])


def test_schedule_jits_and_matches_eager():
    cfg = OptimConfig(lr=1.0, schedule="cosine", warmup_steps=5)
    sched = optim.schedule(cfg, 50)
    t = jnp.asarray(20, jnp.int32)
    np.testing.assert_allclose(jax.jit(sched)(t), sched(t), rtol=1e-6)
    want = 0.5 * (1 + math.cos(math.pi * 15 / 45))
    np.testing.assert_allclose(sched(t), want, rtol=1e-6)


def _updates(cfg: OptimConfig, grads_seq, params):
    """Feed a sequence of gradients to the built optimizer; return each update."""
    opt = optim.build(cfg, total_steps=100)
    update = jax.jit(opt.update)  # one compile is cheaper than op-by-op dispatch
    opt_state, out = opt.init(params), []
    for grads in grads_seq:
        updates, opt_state = update(grads, opt_state, params)
        out.append(updates)
    return out


def test_clip_norm_rescales_to_the_global_norm():
    params = {"weight": jnp.zeros(2), "bias": jnp.zeros(1)}
    grads = {"weight": jnp.array([6.0, 0.0]), "bias": jnp.array([8.0])}  # norm 10
    small = jax.tree.map(lambda g: g / 20, grads)  # norm 0.5: left as is
    cfg = OptimConfig(name="sgd", lr=0.5, clip_norm=1.0)  # stateless: no carry-over
    clipped, unclipped = _updates(cfg, [grads, small], params)
    for leaf in grads:
        np.testing.assert_allclose(clipped[leaf], -0.5 * grads[leaf] / 10, rtol=1e-6)
        np.testing.assert_allclose(unclipped[leaf], -0.5 * small[leaf], rtol=1e-6)


@pytest.mark.parametrize(
    ("momentum", "nesterov", "factors"),
    [
        (0.0, False, [1.0, 1.0]),  # plain gradient descent
        (0.9, False, [1.0, 1.9]),  # heavy ball: v = 0.9 v + g
        (0.9, True, [1.9, 2.71]),  # Nesterov: g + 0.9 v_new
    ],
)
def test_sgd_momentum_variants_by_hand(momentum, nesterov, factors):
    params, grads = {"weight": jnp.zeros(2)}, {"weight": jnp.array([1.0, -2.0])}
    cfg = OptimConfig(name="sgd", lr=0.1, momentum=momentum, nesterov=nesterov)
    got = _updates(cfg, [grads, grads], params)
    for updates, factor in zip(got, factors, strict=True):
        want = -0.1 * factor * grads["weight"]
        np.testing.assert_allclose(updates["weight"], want, rtol=1e-6)


def test_adamw_decays_weights_but_not_biases():
    params = {"weight": jnp.array([[2.0, -4.0]]), "bias": jnp.array([3.0, 5.0])}
    zeros = jax.tree.map(jnp.zeros_like, params)
    cfg = OptimConfig(name="adamw", lr=0.1, weight_decay=0.01)
    (updates,) = _updates(cfg, [zeros], params)
    np.testing.assert_allclose(updates["weight"], -0.1 * 0.01 * params["weight"])
    np.testing.assert_array_equal(updates["bias"], jnp.zeros(2))


def test_rmsprop_accepts_nesterov_momentum():
    params, grads = {"weight": jnp.zeros(1)}, {"weight": jnp.array([2.0])}
    base = OptimConfig(name="rmsprop", lr=0.1, decay=0.5, eps=0.0)
    (plain,) = _updates(base, [grads], params)
    # First step: nu = 0.5 g^2, so the scaled gradient is g / sqrt(0.5 g^2).
    np.testing.assert_allclose(plain["weight"], [-0.1 * math.sqrt(2.0)], rtol=1e-6)
    cfg = dataclasses.replace(base, momentum=0.5, nesterov=True)
    (nesterov,) = _updates(cfg, [grads], params)
    np.testing.assert_allclose(nesterov["weight"], 1.5 * plain["weight"], rtol=1e-6)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(JnnValueError, match=r"optim.name.*did you mean 'adam'\?"):
        optim.build(OptimConfig(name="adma"), total_steps=10)


def test_nesterov_without_momentum_raises():
    cfg = OptimConfig(name="sgd", nesterov=True, momentum=0.0)
    with pytest.raises(JnnValueError, match=r"`optim.momentum` > 0 when `optim.nest"):
        optim.build(cfg, total_steps=10)


@pytest.mark.parametrize(("momentum", "nesterov"), [(0.9, False), (0.0, True)])
def test_momentum_for_an_optimizer_without_it_raises(momentum, nesterov):
    cfg = OptimConfig(name="adam", momentum=momentum, nesterov=nesterov)
    with pytest.raises(JnnValueError, match="momentum applies to sgd and rmsprop"):
        optim.build(cfg, total_steps=10)


# (config overrides, total_steps, error type, message pattern)
BAD_CONFIGS = [
    ({}, 0, JnnValueError, "`total_steps` > 0, got 0"),
    ({}, 1.5, JnnTypeError, "`total_steps` to be an int"),
    ({"schedule": "cosin"}, 10, JnnValueError, "did you mean 'cosine'"),
    ({"lr": 0.0}, 10, JnnValueError, "`optim.lr` > 0, got 0.0"),
    ({"lr": "fast"}, 10, JnnTypeError, "`optim.lr` to be a number"),
    ({"warmup_steps": 10}, 10, JnnValueError, "`optim.warmup_steps` < total_st"),
    ({"warmup_steps": -1}, 10, JnnValueError, "`optim.warmup_steps` >= 0"),
    ({"schedule": "step", "decay_steps": 0}, 10, JnnValueError, "decay_steps` > 0"),
    ({"schedule": "step", "decay_rate": 0.0}, 10, JnnValueError, "in (0, 1]"),
    ({"schedule": "exponential", "decay_rate": 2.0}, 10, JnnValueError, "rate` fi"),
    ({"schedule": "cosine", "final_lr_fraction": 1.5}, 10, JnnValueError, "on` fi"),
    ({"momentum": 1.0, "name": "sgd"}, 10, JnnValueError, "`optim.momentum` in"),
    ({"nesterov": "yes", "name": "sgd"}, 10, JnnTypeError, "`optim.nesterov` to"),
    ({"b1": 1.0}, 10, JnnValueError, "`optim.b1` in"),
    ({"b2": -0.1}, 10, JnnValueError, "`optim.b2` in"),
    ({"decay": 1.0, "name": "rmsprop"}, 10, JnnValueError, "`optim.decay` in"),
    ({"eps": -1e-8, "name": "adagrad"}, 10, JnnValueError, "`optim.eps` finite"),
    ({"weight_decay": -1.0, "name": "adamw"}, 10, JnnValueError, "weight_decay"),
    ({"clip_norm": -1.0}, 10, JnnValueError, "`optim.clip_norm` finite"),
    ({"clip_norm": math.inf}, 10, JnnValueError, "`optim.clip_norm` finite"),
]


@pytest.mark.parametrize(("overrides", "total_steps", "error", "pattern"), BAD_CONFIGS)
def test_bad_config_raises(overrides, total_steps, error, pattern):
    cfg = dataclasses.replace(OptimConfig(), **overrides)
    with pytest.raises(error, match=re.escape(pattern)):
        optim.build(cfg, total_steps)


def test_names_and_schedules_are_all_buildable():
    for name in optim.NAMES:
        for sched in optim.SCHEDULES:
            cfg = OptimConfig(name=name, schedule=sched, warmup_steps=2)
            opt = optim.build(cfg, total_steps=10)
            assert isinstance(opt, optax.GradientTransformation)
            assert float(optim.schedule(cfg, 10)(jnp.asarray(1))) == pytest.approx(
                cfg.lr / 2
            )
