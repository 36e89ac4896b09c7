"""`fuse_steps` = 0: the steps per dispatch `jnn.runs.fusing` picks, and why."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn import layers as nn
from jnn import losses
from jnn.runs import fusing, loop
from jnn.train import fitting, supervised

X = np.random.default_rng(0).normal(size=(40, 6, 6, 1)).astype(np.float32)
Y = (X[:, 0, 0, 0] > 0).astype(np.int32)


def _run_parts(model, batch_size=8):
    """(step, state, plan) of a supervised run on (X, Y), as `fit` makes them."""
    pieces = supervised.Pieces(
        model,
        losses.get("sparse_softmax_cross_entropy"),
        optax.sgd(0.1),
        fitting._splits((X, Y), None, None),
        epochs=1,
        batch_size=batch_size,
    )
    step, _ = supervised.steps(pieces)
    plan = supervised.array_plan(X, Y, epochs=1, batch_size=batch_size)
    return step, supervised.initial_state(pieces), plan


def _mlp():
    return nn.serial(nn.flatten(), nn.dense(16), nn.relu(), nn.dense(2))


def _choose(parts, fuse_steps=0, per_step=False):
    step, state, plan = parts
    return fusing.choose(fuse_steps, step, state, plan, per_step)


def test_a_small_step_fuses_the_whole_epoch():
    assert _choose(_run_parts(_mlp())) == (5, "auto: the whole epoch")


def test_a_setting_is_used_as_set():
    assert _choose(_run_parts(_mlp()), fuse_steps=3) == (3, "as set")


def test_convolutions_run_per_step_on_a_cpu(monkeypatch):
    cnn = nn.serial(nn.conv(4, (3, 3)), nn.relu(), nn.flatten(), nn.dense(2))
    parts = _run_parts(cnn)
    reason = "auto: convolutions run slower in a loop on a CPU"
    assert _choose(parts) == (1, reason)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert _choose(parts) == (5, "auto: the whole epoch")


def test_dispatches_are_capped_by_nominal_time_and_by_bytes(monkeypatch):
    parts = _run_parts(_mlp())
    flops, _ = fusing._work(jax.make_jaxpr(parts[0])(parts[1], _batch(parts)).jaxpr)
    # 3 steps' FLOPs in DISPATCH_SECONDS at the nominal CPU rate
    rate = 3.5 * flops / fusing.DISPATCH_SECONDS
    monkeypatch.setitem(fusing.NOMINAL_FLOPS, "cpu", rate)
    assert _choose(parts) == (3, "auto: the epoch in 2 dispatches")  # 3 + 2
    monkeypatch.setitem(fusing.NOMINAL_FLOPS, "cpu", 1.0)  # too slow for one
    assert _choose(parts) == (1, "auto: the epoch in 5 dispatches")
    monkeypatch.setitem(fusing.NOMINAL_FLOPS, "cpu", 1e30)
    batch_bytes = 8 * (6 * 6 * 4 + 4 + 4)  # x float32, y int32, mask float32
    monkeypatch.setattr(fusing, "DISPATCH_BYTES", 2 * batch_bytes + 1)
    assert _choose(parts) == (2, "auto: the epoch in 3 dispatches")


def _batch(parts):
    return fusing._one_batch(parts[2])


def test_a_callback_on_every_step_or_a_bad_setting_runs_per_step_or_is_refused():
    parts = _run_parts(_mlp())
    assert _choose(parts, per_step=True) == (1, "auto: a callback sees every step")
    with pytest.raises(ValueError, match=r"expected `fuse_steps` >= 0, got -1"):
        fusing.check(-1)
    with pytest.raises(TypeError, match=r"expected `fuse_steps` to be an int"):
        fusing.check(2.0)


def test_a_shared_batch_is_not_capped_by_bytes(monkeypatch):
    step, state, plan = _run_parts(_mlp())
    monkeypatch.setattr(fusing, "DISPATCH_BYTES", 1)  # any stack is too big
    assert _choose((step, state, plan)) == (1, "auto: the epoch in 5 dispatches")
    shared = plan._replace(shared=True)  # as if each step took one batch alike
    assert _choose((step, state, shared)) == (5, "auto: the whole epoch")


@pytest.mark.parametrize(
    "epoch, cap, steps",
    [(500, 242, 125), (103, 21, 21), (12, 5, 4), (10, 2, 2), (7, 1, 1), (9, 9, 9)],
)
def test_a_dispatch_divides_the_epoch_when_half_the_cap_allows(epoch, cap, steps):
    assert fusing._dividing(epoch, cap) == steps


def test_flops_count_products_convolutions_and_loop_bodies():
    def work(fn, *args):
        return fusing._work(jax.make_jaxpr(fn)(*args).jaxpr)

    a, b = jnp.ones((4, 3)), jnp.ones((3, 5))
    assert work(jnp.matmul, a, b) == (2 * 4 * 5 * 3, False)
    x, k = jnp.ones((2, 6, 6, 3)), jnp.ones((3, 3, 3, 8))  # NHWC, HWIO
    conv = jax.jit(
        lambda x, k: jax.lax.conv_general_dilated(
            x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
    )
    assert work(conv, x, k) == (2 * (2 * 4 * 4 * 8) * (3 * 3 * 3), True)

    def loop_of_7(a, b):
        return jax.lax.scan(lambda c, _: (c, c @ b), a, None, length=7)[1]

    assert work(loop_of_7, a, b) == (7 * 2 * 4 * 5 * 3, False)
    grad = jax.grad(lambda a, b: jnp.sum(a @ b))  # forward + the grad of a
    assert work(grad, a, b)[0] == 2 * (2 * 4 * 5 * 3)


def test_a_gan_plan_shares_its_data_among_steps():
    from types import SimpleNamespace

    from jnn.gan import task as gan_task

    assert not loop.Plan(1, len, len, len).shared  # the default
    cfg = SimpleNamespace(train=SimpleNamespace(steps=10, eval_every=5))
    assert gan_task.plan(cfg, jnp.zeros((4, 2))).shared
