"""Recurrent cells: NumPy references of the documented (PyTorch) equations,
the documented weight mapping both ways, gradients through an unroll, init."""

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.test_util
import numpy as np
import pytest

from jnn import initializers
from jnn.layers.cells import Cell, gru_cell, lstm_cell, simple_rnn_cell
from jnn.layers.recurrent import unroll

pytestmark = pytest.mark.usefixtures("fast_compiles")

B, F, H = 2, 3, 4  # F != H so a transposed kernel cannot pass by accident
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
MAKERS = {"rnn": simple_rnn_cell, "lstm": lstm_cell, "gru": gru_cell}
KINDS = sorted(GATES)


def leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


def init(cell, key=0):
    return cell.init(jr.key(key), jnp.zeros((B, F)))


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# NumPy references, written from the docstrings against PyTorch-shaped weights:
# weight_ih (G*H, F), weight_hh (G*H, H), two biases (G*H,).
def np_step(kind, w, carry, x):
    gi = x @ w["weight_ih"].T + w["bias_ih"]
    gh = carry[0] @ w["weight_hh"].T + w["bias_hh"]
    if kind == "rnn":
        h = np.tanh(gi + gh)
        return (h,), h
    if kind == "lstm":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sigmoid(f) * carry[1] + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        return (h, c), h
    (a_r, a_z, a_n), (u_r, u_z, u_n) = np.split(gi, 3, -1), np.split(gh, 3, -1)
    r, z = sigmoid(a_r + u_r), sigmoid(a_z + u_z)
    h = (1 - z) * np.tanh(a_n + r * u_n) + z * carry[0]
    return (h,), h


def torch_weights(kind, rng):
    g = GATES[kind] * H
    shapes = {
        "weight_ih": (g, F),
        "weight_hh": (g, H),
        "bias_ih": (g,),
        "bias_hh": (g,),
    }
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def to_jnn(kind, w):
    """The documented PyTorch -> jnn mapping."""
    params = {"w_i": w["weight_ih"].T, "w_h": w["weight_hh"].T}
    if kind == "gru":
        zero = np.zeros(H, np.float32)
        params["bias"] = w["bias_ih"] + np.concatenate([w["bias_hh"][: 2 * H], zero])
        params["bias_hn"] = w["bias_hh"][2 * H :]
    else:
        params["bias"] = w["bias_ih"] + w["bias_hh"]
    return jax.tree_util.tree_map(jnp.asarray, params)


def to_torch(kind, p):
    """The documented jnn -> PyTorch mapping (one bias set to zero)."""
    p = jax.tree_util.tree_map(np.asarray, p)
    w = {"weight_ih": p["w_i"].T, "weight_hh": p["w_h"].T, "bias_ih": p["bias"]}
    w["bias_hh"] = np.zeros_like(p["bias"])
    if kind == "gru":
        w["bias_hh"][2 * H :] = p["bias_hn"]
    return w


def as_carry(kind, carry):
    return tuple(jnp.asarray(c) for c in carry) if kind == "lstm" else carry[0]


def np_carry(kind, carry):
    return tuple(np.asarray(c) for c in carry) if kind == "lstm" else (carry,)


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_matches_numpy_from_torch_weights(kind):
    rng = np.random.default_rng(0)
    w = torch_weights(kind, rng)
    x = rng.standard_normal((B, F)).astype(np.float32)
    carry = tuple(rng.standard_normal((B, H)).astype(np.float32) for _ in range(2))
    carry = carry if kind == "lstm" else carry[:1]
    want_carry, want_y = np_step(kind, w, carry, x)
    step = jax.jit(MAKERS[kind](H).apply)  # one compile, not one per eager op
    got_carry, got_y = step(to_jnn(kind, w), as_carry(kind, carry), x)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-5, atol=1e-5)
    for got, want in zip(np_carry(kind, got_carry), want_carry, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_unroll_matches_numpy_loop_with_jnn_weights_mapped_back(kind):
    rng = np.random.default_rng(1)
    g = GATES[kind] * H
    shapes = {"w_i": (F, g), "w_h": (H, g), "bias": (g,), "bias_hn": (H,)}
    params = {
        k: jnp.asarray(rng.standard_normal(s), jnp.float32) for k, s in shapes.items()
    }
    if kind != "gru":
        del params["bias_hn"]
    w = to_torch(kind, params)  # inverse mapping: jnn layout -> PyTorch layout
    x = rng.standard_normal((B, 5, F)).astype(np.float32)
    carry, want = tuple(np.zeros((B, H), np.float32) for _ in range(2)), []
    carry = carry if kind == "lstm" else carry[:1]
    for t in range(5):
        carry, y = np_step(kind, w, carry, x[:, t])
        want.append(y)
    run = jax.jit(lambda p, x: unroll(MAKERS[kind](H), p, x))
    got_carry, ys = run(params, jnp.asarray(x))
    np.testing.assert_allclose(ys, np.stack(want, axis=1), rtol=1e-5, atol=1e-5)
    for got, expected in zip(np_carry(kind, got_carry), carry, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    # Masked lengths (5, 3): sequence 0 is still a full 5-step unroll.
    ("kind", "masked"),
    [("gru", False), ("lstm", True), ("rnn", False)],
)
def test_check_grads_through_five_step_unroll(kind, masked, x64):
    # NumPy weights, not cell.init: a float64 init would compile QR again.
    rng = np.random.default_rng(2)
    params = jax.tree_util.tree_map(
        lambda w: jnp.asarray(0.5 * w, jnp.float64),
        to_jnn(kind, torch_weights(kind, rng)),
    )
    x = jnp.asarray(rng.standard_normal((B, 5, F)))
    lengths = jnp.array([5, 3]) if masked else None
    cell = MAKERS[kind](H)

    @jax.jit
    def f(p, x):
        carry, ys = unroll(cell, p, x, lengths)
        return ys, carry

    jax.test_util.check_grads(f, (params, x), order=1, modes=["rev"])


def test_lstm_forget_bias_defaults_to_one_and_is_configurable():
    def bias(**kwargs):
        params = init(lstm_cell(H, **kwargs))
        return np.asarray(params["bias"]).reshape(4, H)  # rows: i, f, g, o

    np.testing.assert_array_equal(bias(), [[0] * H, [1] * H, [0] * H, [0] * H])
    np.testing.assert_array_equal(bias(forget_bias=0.0), np.zeros((4, H)))
    got = bias(forget_bias=-2.0, b_init=initializers.constant(0.5))
    np.testing.assert_array_equal(got[1], [-1.5] * H)  # added to b_init's values
    np.testing.assert_array_equal(got[[0, 2, 3]], np.full((3, H), 0.5))


@pytest.mark.parametrize("kind", KINDS)
def test_init_shapes_and_orthogonal_recurrent_blocks(kind):
    g = GATES[kind]
    params = init(MAKERS[kind](H))
    assert params["w_i"].shape == (F, g * H)
    assert params["bias"].shape == (g * H,)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(params))
    blocks = np.split(np.asarray(params["w_h"]), g, axis=1)  # one (H, H) per gate
    for block in blocks:
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-5)
    assert not np.allclose(blocks[0], blocks[-1]) or g == 1  # independent gates
    if kind == "gru":
        np.testing.assert_array_equal(params["bias_hn"], np.zeros(H))


def test_param_dtype_and_initial_carry():
    # normal(), not orthogonal: LAPACK's QR has no float16 on CPU.
    cell = gru_cell(H, w_h_init=initializers.normal(), param_dtype=jnp.float16)
    dtypes = {
        a.dtype
        for a in jax.tree_util.tree_leaves(cell.init(jr.key(0), jnp.zeros((B, F))))
    }
    assert dtypes == {jnp.dtype(jnp.float16)}
    h, c = lstm_cell(H).initial_carry(3, jnp.float16)
    assert h.shape == c.shape == (3, H) and h.dtype == jnp.float16
    assert not np.any(np.asarray(h)) and not np.any(np.asarray(c))
    assert simple_rnn_cell(H).initial_carry(0).shape == (0, H)
    assert isinstance(gru_cell(1), Cell)


class UnhashableOnes:
    """An initializer object that cannot be a jit static argument."""

    __hash__ = None

    def __call__(self, key, shape, dtype):
        del key
        return jnp.ones(shape, dtype)


def test_custom_initializers_are_used_even_unhashable():
    ones = UnhashableOnes()
    params = init(gru_cell(H, w_i_init=ones, w_h_init=ones, b_init=ones))
    for leaf in leaves(params):
        np.testing.assert_array_equal(leaf, np.ones_like(leaf))


@pytest.mark.parametrize("make", [simple_rnn_cell, lstm_cell, gru_cell])
def test_bad_features_raise(make):
    with pytest.raises(TypeError, match=r"expected `features` to be an int, got '4'"):
        make("4")
    with pytest.raises(ValueError, match=r"expected `features` > 0, got 0"):
        make(0)


def test_bad_forget_bias_raises():
    with pytest.raises(ValueError, match=r"lstm_cell: expected `forget_bias` finite"):
        lstm_cell(H, forget_bias=float("nan"))
    with pytest.raises(TypeError, match=r"`forget_bias` to be a number"):
        lstm_cell(H, forget_bias="1")


@pytest.mark.parametrize("kind", KINDS)
def test_bad_steps_raise(kind):
    cell = MAKERS[kind](H)
    params = cell.init(jr.key(0), jnp.zeros((B, F)))
    carry = cell.initial_carry(B)
    where = {"rnn": "simple_rnn_cell"}.get(kind, f"{kind}_cell")
    with pytest.raises(ValueError, match=rf"{where}: expected input of rank 2"):
        cell.apply(params, carry, jnp.zeros((B, 1, F)))
    with pytest.raises(
        ValueError, match=r"expected `x_t` of shape \(B, 3\) to match `w_i` \(3, G\*H\)"
    ):
        cell.apply(params, carry, jnp.zeros((B, F + 1)))
    with pytest.raises(TypeError, match=r"`x_t` with a floating dtype, got dtype int"):
        cell.apply(params, carry, jnp.zeros((B, F), jnp.int32))
    with pytest.raises(ValueError, match=r"a carry of shape \(3, 4\) \(B, H\)"):
        cell.apply(params, carry, jnp.zeros((3, F)))
    with pytest.raises(ValueError, match=r"expected input of rank 2"):
        cell.init(jr.key(0), jnp.zeros((B, 5, F)))


def test_bad_batch_size_raises():
    with pytest.raises(ValueError, match=r"gru_cell: expected `batch_size` >= 0"):
        gru_cell(H).initial_carry(-1)
    with pytest.raises(TypeError, match=r"expected `batch_size` to be an int"):
        lstm_cell(H).initial_carry(2.0)
