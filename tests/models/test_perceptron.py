"""The perceptron: the textbook neuron, its learning rule, AND/OR vs XOR.

XOR is the classic limit of a single neuron; a two-layer MLP trained with
backprop (`jax.grad`) is the fix, checked at the end.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from jax import lax

from jnn import initializers
from jnn.layers import dense, serial, tanh
from jnn.models.perceptron import (
    perceptron,
    perceptron_update,
    train_perceptron,
    weighted_sum,
)

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate

TRUTH_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
AND = np.array([0, 0, 0, 1], np.int32)
OR = np.array([0, 1, 1, 1], np.int32)
XOR = np.array([0, 1, 1, 0], np.int32)


def _params(weight, bias=0.0):
    return {"weight": jnp.asarray(weight, jnp.float32), "bias": jnp.float32(bias)}


# --- the neuron ---------------------------------------------------------------


def test_perceptron_is_labelled_for_summary():
    assert perceptron().kind == "perceptron"


def test_textbook_weighted_sum_and_fire():
    # inputs (0.5, 0.6), weights (0.5, 0.7): 0.25 + 0.42 = 0.67 >= 0.5 -> fires
    params = _params([0.5, 0.7])
    x = jnp.array([0.5, 0.6], jnp.float32)
    np.testing.assert_allclose(weighted_sum(params, x), 0.67, atol=1e-6)
    y, state = perceptron(threshold=0.5).apply(params, {}, x[None])
    np.testing.assert_array_equal(y, [1.0])
    assert state == {}
    # the same sum against a higher threshold stays silent
    y_high, _ = perceptron(threshold=0.7).apply(params, {}, x[None])
    np.testing.assert_array_equal(y_high, [0.0])


def test_threshold_is_inclusive():
    # step(x) is 1 where x >= threshold: a sum exactly at the threshold fires
    params = _params([1.0, 0.0])
    x = jnp.array([[0.5, 3.0], [0.4999, 3.0]], jnp.float32)
    y, _ = perceptron(threshold=0.5).apply(params, {}, x)
    np.testing.assert_array_equal(y, [1.0, 0.0])


def test_init_shapes_zero_default_and_custom_w_init(key):
    x = jnp.zeros((4, 3), jnp.float32)
    params, state = perceptron().init(key, x)
    assert state == {}
    assert params["weight"].shape == (3,) and params["bias"].shape == ()
    assert params["weight"].dtype == jnp.float32
    np.testing.assert_array_equal(params["weight"], np.zeros(3))
    params, _ = perceptron(w_init=initializers.constant(0.25)).init(key, x)
    np.testing.assert_array_equal(params["weight"], np.full(3, 0.25))
    np.testing.assert_array_equal(params["bias"], 0.0)


def test_apply_matches_numpy_and_jit_any_leading_dims():
    layer = perceptron(threshold=0.1)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 3)), jnp.float32)
    params = _params([0.3, -0.2, 0.5], bias=-0.05)
    y, _ = layer.apply(params, {}, x)
    sums = np.asarray(x) @ np.array([0.3, -0.2, 0.5]) - 0.05
    assert y.shape == (2, 5) and y.dtype == jnp.float32
    np.testing.assert_array_equal(y, (sums >= 0.1).astype(np.float32))
    y_jit, _ = jax.jit(layer.apply)(params, {}, x)
    np.testing.assert_array_equal(y_jit, y)


def test_step_has_no_useful_gradient():
    # Why the rule exists: d step / d w is zero, so backprop cannot move w.
    layer = perceptron(threshold=0.5)
    x = jnp.asarray(TRUTH_X)

    def loss(p):
        return jnp.sum((layer.apply(p, {}, x)[0] - jnp.asarray(AND, jnp.float32)) ** 2)

    params = _params([0.1, 0.1])  # never fires: (1, 1) is wrong
    grads = jax.grad(loss)(params)
    assert float(loss(params)) == 1.0  # wrong, yet no gradient signal
    np.testing.assert_array_equal(grads["weight"], np.zeros(2))
    np.testing.assert_array_equal(grads["bias"], 0.0)


# --- the rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "weight", "bias"),
    [
        (0, [0.5 - 0.1 * 0.5, 0.7 - 0.1 * 0.6], -0.1),  # false fire: w -= lr x
        (1, [0.5, 0.7], 0.0),  # fired and wanted: unchanged
    ],
)
def test_single_update_matches_hand_computation(target, weight, bias):
    params = _params([0.5, 0.7])
    x = jnp.array([0.5, 0.6], jnp.float32)
    new = perceptron_update(params, x, target, threshold=0.5, lr=0.1)
    np.testing.assert_allclose(new["weight"], weight, atol=1e-6)
    np.testing.assert_allclose(new["bias"], bias, atol=1e-6)
    assert new["weight"].dtype == new["bias"].dtype == jnp.float32


def test_update_on_a_miss_adds_the_input():
    # y = step(0) with threshold 0.5 is 0, t = 1: w += lr x, b += lr
    new = perceptron_update(
        _params([0.0, 0.0]), jnp.array([1.0, 2.0]), 1.0, threshold=0.5, lr=0.5
    )
    np.testing.assert_allclose(new["weight"], [0.5, 1.0])
    np.testing.assert_allclose(new["bias"], 0.5)


def test_train_equals_sample_by_sample_python_loop():
    # scan must be online (each update sees the last), not a batch average
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(6, 3)), jnp.float32)
    t = rng.integers(0, 2, size=6).astype(np.int32)
    params = _params([0.1, -0.2, 0.3])
    got, errors = train_perceptron(params, x, t, threshold=0.2, lr=0.3, epochs=3)
    want, want_errors = params, []
    for _ in range(3):
        wrong = 0
        for xi, ti in zip(x, t, strict=True):
            y = float(weighted_sum(want, xi) >= 0.2)
            wrong += int(y != float(ti))
            want = perceptron_update(want, xi, ti, threshold=0.2, lr=0.3)
        want_errors.append(wrong)
    np.testing.assert_allclose(got["weight"], want["weight"], atol=1e-6)
    np.testing.assert_allclose(got["bias"], want["bias"], atol=1e-6)
    np.testing.assert_array_equal(errors, want_errors)
    assert errors.dtype == jnp.int32 and errors.shape == (3,)


@pytest.mark.parametrize(("name", "targets"), [("AND", AND), ("OR", OR)])
@pytest.mark.parametrize(("threshold", "lr"), [(0.0, 1.0), (0.5, 0.1)])
def test_learns_linearly_separable_gates(name, targets, threshold, lr, key):
    layer = perceptron(threshold)
    x = jnp.asarray(TRUTH_X)
    params, _ = layer.init(key, x)
    params, errors = train_perceptron(
        params, x, targets, threshold=threshold, lr=lr, epochs=20
    )
    errors = np.asarray(errors)
    assert errors[0] > 0, name  # zero weights are wrong at the start
    first_clean = int(np.argmax(errors == 0))
    assert errors[first_clean] == 0 and first_clean < 10, (name, errors)
    np.testing.assert_array_equal(errors[first_clean:], 0)  # and stays clean
    y, _ = layer.apply(params, {}, x)
    np.testing.assert_array_equal(y, targets.astype(np.float32))


@pytest.mark.parametrize(("threshold", "lr"), [(0.0, 1.0), (0.5, 0.1), (0.2, 0.7)])
def test_cannot_learn_xor(threshold, lr, key):
    layer = perceptron(threshold)
    x = jnp.asarray(TRUTH_X)
    params, _ = layer.init(key, x)
    params, errors = train_perceptron(
        params, x, XOR, threshold=threshold, lr=lr, epochs=200
    )
    assert np.all(np.asarray(errors) > 0), errors  # never one clean epoch
    y, _ = layer.apply(params, {}, x)
    assert np.sum(np.asarray(y) != XOR) >= 1


def test_train_accepts_float_and_bool_targets(key):
    x = jnp.asarray(TRUTH_X)
    params, _ = perceptron().init(key, x)
    runs = [
        train_perceptron(params, x, t, epochs=5)
        for t in (AND, AND.astype(np.float32), AND.astype(bool))
    ]
    for got, errors in runs[1:]:
        np.testing.assert_array_equal(got["weight"], runs[0][0]["weight"])
        np.testing.assert_array_equal(errors, runs[0][1])


def test_train_under_outer_jit_matches_eager():
    # traced targets skip the value check (documented) but train the same
    x = jnp.asarray(TRUTH_X)
    params = _params([0.2, -0.1], bias=0.1)
    eager = train_perceptron(params, x, OR, threshold=0.3, lr=0.2, epochs=4)
    jitted = jax.jit(
        lambda p, t: train_perceptron(p, x, t, threshold=0.3, lr=0.2, epochs=4)
    )(params, jnp.asarray(OR))
    jax.tree.map(np.testing.assert_allclose, jitted, eager)
    assert int(eager[1][0]) > 0  # the run did update


# --- backprop fixes XOR -------------------------------------------------------


def test_mlp_learns_xor_with_backprop():
    model = serial(dense(8), tanh(), dense(1))
    x = jnp.asarray(TRUTH_X)
    t = jnp.asarray(XOR, jnp.float32)[:, None]  # (4, 1) like the logits
    optimizer = optax.sgd(0.5, momentum=0.9)

    def loss_fn(params, state):
        logits, _ = model.apply(params, state, x)
        return optax.sigmoid_binary_cross_entropy(logits, t).mean()

    @jax.jit  # init, 300 steps and the final check: one compilation
    def fit(key):
        params, state = model.init(key, x)

        def train_step(carry, _):
            p, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, state)
            updates, opt_state = optimizer.update(grads, opt_state, p)
            return (optax.apply_updates(p, updates), opt_state), loss

        carry = (params, optimizer.init(params))
        (params, _), losses = lax.scan(train_step, carry, None, length=300)
        return losses, loss_fn(params, state), model.apply(params, state, x)[0]

    losses, final_loss, logits = fit(jr.key(0))
    assert float(losses[0]) > 0.5  # started near chance (log 2 = 0.69)
    assert float(final_loss) < 0.05
    np.testing.assert_array_equal((np.asarray(logits[:, 0]) > 0).astype(int), XOR)


# --- errors -------------------------------------------------------------------


def test_constructor_errors():
    with pytest.raises(TypeError, match=r"perceptron: expected `threshold`"):
        perceptron("0.5")
    with pytest.raises(ValueError, match=r"`threshold` finite.*got nan"):
        perceptron(float("nan"))


def test_shape_and_dtype_errors(key):
    layer = perceptron()
    with pytest.raises(ValueError, match=r"perceptron: expected input of rank >= 1"):
        layer.init(key, jnp.zeros(()))
    params = _params([0.5, 0.7])
    msg = r"expected input with 2 features .*weight is \(2,\)\), got shape \(4, 3\)"
    with pytest.raises(ValueError, match=msg):
        layer.apply(params, {}, jnp.zeros((4, 3)))
    with pytest.raises(TypeError, match=r"`x` with a floating dtype, got dtype int32"):
        weighted_sum(params, jnp.zeros((4, 2), jnp.int32))
    with pytest.raises(ValueError, match=r"perceptron: expected input of rank >= 1"):
        weighted_sum(params, jnp.float32(1.0))


def test_params_errors():
    x = jnp.zeros((4, 2), jnp.float32)
    dense_params = {"weight": jnp.zeros((2, 1)), "bias": jnp.zeros(1)}  # dense(1)
    with pytest.raises(ValueError, match=r"weight.*\(2, 1\).*Hint: dense\(1\)"):
        weighted_sum(dense_params, x)
    with pytest.raises(ValueError, match=r"perceptron: expected params"):
        perceptron().apply(dense_params, {}, x)
    with pytest.raises(TypeError, match=r"expected params .*, got tuple"):
        weighted_sum((jnp.zeros(2), jnp.zeros(())), x)
    with pytest.raises(ValueError, match=r"scalar `bias` of shape \(\), got shape"):
        weighted_sum({"weight": jnp.zeros(2), "bias": jnp.zeros(1)}, x)


def test_update_errors():
    params = _params([0.5, 0.7])
    x = jnp.array([0.5, 0.6], jnp.float32)
    with pytest.raises(
        ValueError, match=r"perceptron_update: expected input of rank 1"
    ):
        perceptron_update(params, x[None], 1)
    with pytest.raises(ValueError, match=r"`targets` of shape \(\).*got shape \(1,\)"):
        perceptron_update(params, x, jnp.array([1]))
    with pytest.raises(ValueError, match=r"only 0 and 1, got other values \[2.0\]"):
        perceptron_update(params, x, 2)
    with pytest.raises(ValueError, match=r"`lr` > 0, got 0.0"):
        perceptron_update(params, x, 1, lr=0.0)
    with pytest.raises(ValueError, match=r"`lr` finite"):
        perceptron_update(params, x, 1, lr=-1.0)
    with pytest.raises(ValueError, match=r"`threshold` finite"):
        perceptron_update(params, x, 1, threshold=float("inf"))
    with pytest.raises(TypeError, match=r"`x` of the params' dtype float32"):
        perceptron_update(params, x.astype(jnp.bfloat16), 1)


def test_train_errors():
    params = _params([0.0, 0.0])
    x = jnp.asarray(TRUTH_X)
    with pytest.raises(
        ValueError, match=r"`targets` of shape \(4,\).*got shape \(3,\)"
    ):
        train_perceptron(params, x, AND[:3])
    with pytest.raises(ValueError, match=r"only 0 and 1, got other values \[-1.0\]"):
        train_perceptron(params, x, np.array([0, -1, 1, 1]))
    with pytest.raises(ValueError, match=r"train_perceptron: expected input of rank 2"):
        train_perceptron(params, x[0], AND)
    with pytest.raises(ValueError, match=r"`epochs` > 0, got 0"):
        train_perceptron(params, x, AND, epochs=0)
    with pytest.raises(TypeError, match=r"`epochs` to be an int, got 2.5"):
        train_perceptron(params, x, AND, epochs=2.5)
    with pytest.raises(TypeError, match=r"`x` of the params' dtype float32"):
        train_perceptron(params, x.astype(jnp.float16), AND)


def test_w_init_by_name_and_a_misspelt_name():
    import jax
    import jax.numpy as jnp

    from jnn.models.perceptron import perceptron

    params, _ = perceptron(w_init="ones").init(jax.random.key(0), jnp.zeros((1, 3)))
    np.testing.assert_array_equal(params["weight"], np.ones(3, np.float32))
    with pytest.raises(ValueError, match="did you mean 'ones'"):
        perceptron(w_init="onse")
