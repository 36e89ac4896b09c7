"""Backprop by hand: `jax.grad` of a two-layer net equals the chain rule in NumPy.

Network: z1 = x W1 + b1, h = sigmoid(z1), y = h W2 + b2,
loss L = mean((y - t)^2) over all B * OUT entries. By hand:

  delta2 = dL/dy = 2 (y - t) / (B OUT)                  (B, OUT)
  dL/dW2 = h^T delta2        dL/db2 = sum_B delta2       (H, OUT), (OUT,)
  delta1 = (delta2 W2^T) * sigmoid'(z1),  sigmoid' = h (1 - h)
  dL/dW1 = x^T delta1        dL/db1 = sum_B delta1       (F, H), (H,)
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn.layers import dense, named, sigmoid

B, F, H, OUT = 3, 4, 5, 2  # batch, inputs, hidden units, outputs


def _model(dtype):
    return named(
        hidden=dense(H, param_dtype=dtype),
        act=sigmoid(),
        out=dense(OUT, param_dtype=dtype),
    )


def _problem(dtype, seed=0):
    """Return (model, params, x, t); every leaf, biases too, is random and non-zero.

    NumPy draws the values and `eval_shape` gives the param tree without
    compiling an initializer: eager jax RNG would compile once per shape.
    """
    rng = np.random.default_rng(seed)
    model = _model(dtype)
    x = jnp.asarray(rng.normal(size=(B, F)), dtype)
    t = jnp.asarray(rng.normal(size=(B, OUT)), dtype)
    specs, _ = jax.eval_shape(model.init, jr.key(0), x)
    params = jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s.shape), dtype), specs)
    return model, params, x, t


def _loss(model, params, x, t):
    y, _ = model.apply(params, {"hidden": {}, "act": {}, "out": {}}, x)
    return jnp.mean((y - t) ** 2)


def _hand_backprop(params, x, t):
    """The chain rule written out in float64 NumPy; returns (loss, grads)."""
    f64 = {
        k: {n: np.asarray(v, np.float64) for n, v in p.items()}
        for k, p in params.items()
        if p
    }
    w1, b1 = f64["hidden"]["weight"], f64["hidden"]["bias"]
    w2, b2 = f64["out"]["weight"], f64["out"]["bias"]
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    z1 = x @ w1 + b1  # (B, H)
    h = 1.0 / (1.0 + np.exp(-z1))
    y = h @ w2 + b2  # (B, OUT)
    delta2 = 2.0 * (y - t) / y.size  # dL/dy, (B, OUT)
    delta1 = (delta2 @ w2.T) * h * (1.0 - h)  # dL/dz1, (B, H)
    grads = {
        "hidden": {"weight": x.T @ delta1, "bias": delta1.sum(axis=0)},
        "act": {},
        "out": {"weight": h.T @ delta2, "bias": delta2.sum(axis=0)},
    }
    return np.mean((y - t) ** 2), grads


def _assert_grads_close(got, want, rtol, atol):
    for layer in ("hidden", "out"):
        for leaf in ("weight", "bias"):
            np.testing.assert_allclose(
                got[layer][leaf],
                want[layer][leaf],
                rtol=rtol,
                atol=atol,
                err_msg=f"{layer}/{leaf}",
            )


def test_grad_equals_hand_backprop_float64(x64):
    model, params, x, t = _problem(jnp.float64)
    assert params["hidden"]["weight"].dtype == jnp.float64
    loss, grads = jax.jit(jax.value_and_grad(lambda p: _loss(model, p, x, t)))(params)
    want_loss, want = _hand_backprop(params, x, t)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    _assert_grads_close(grads, want, rtol=1e-10, atol=1e-12)
    # the witness is not vacuous: every hand gradient is clearly non-zero
    for layer in ("hidden", "out"):
        for leaf in ("weight", "bias"):
            assert np.abs(want[layer][leaf]).max() > 1e-4, (layer, leaf)


def test_grad_float32_matches_float64_hand_backprop():
    model, params, x, t = _problem(jnp.float32, seed=1)
    grads = jax.jit(jax.grad(lambda p: _loss(model, p, x, t)))(params)
    assert grads["out"]["weight"].dtype == jnp.float32
    _, want = _hand_backprop(params, x, t)
    _assert_grads_close(grads, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("layer", "index"), [("hidden", (1, 2)), ("out", (4, 0))])
def test_finite_difference_witness(layer, index, x64):
    # An independent check that uses neither jax.grad nor the hand derivation.
    model, params, x, t = _problem(jnp.float64, seed=2)
    eps = 1e-6
    loss_fn = jax.jit(lambda p: _loss(model, p, x, t))

    def loss_at(delta):
        p = dict(params)  # a shallow copy: only one layer's dict is replaced
        p[layer] = dict(p[layer], weight=p[layer]["weight"].at[index].add(delta))
        return float(loss_fn(p))

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)  # central difference
    _, hand = _hand_backprop(params, x, t)
    grads = jax.jit(jax.grad(lambda p: _loss(model, p, x, t)))(params)
    assert abs(hand[layer]["weight"][index]) > 1e-4  # a non-trivial entry
    np.testing.assert_allclose(numeric, hand[layer]["weight"][index], rtol=1e-6)
    np.testing.assert_allclose(numeric, grads[layer]["weight"][index], rtol=1e-6)


def test_one_gradient_step_lowers_the_loss(x64):
    # Follow-through: the hand gradient points downhill (small step, MSE).
    model, params, x, t = _problem(jnp.float64, seed=3)
    before, want = _hand_backprop(params, x, t)
    stepped = jax.tree.map(lambda p, g: np.asarray(p) - 0.01 * g, params, want)
    after = float(jax.jit(lambda p: _loss(model, p, x, t))(stepped))
    squared_norm = sum(float(np.sum(g**2)) for g in jax.tree.leaves(want))
    assert after < before
    # first-order prediction: L drops by about lr * |grad|^2
    np.testing.assert_allclose(before - after, 0.01 * squared_norm, rtol=0.05)
