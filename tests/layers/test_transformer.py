"""Values of `transformer_block`: a NumPy pre-LayerNorm reference, causality,
padding, dropout keys and the constructor's errors."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import layers

pytestmark = pytest.mark.usefixtures("fast_compiles")

block = layers.transformer_block


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def np_layer_norm(p, x, eps=1e-5):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * p["scale"] + p["bias"]


def np_gelu(x):  # jax.nn.gelu's default tanh approximation
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def np_attention(p, x, heads, causal, lengths):
    """Multi-head self-attention written out head by head (float64)."""
    q, k, v = (x @ p[n]["weight"] + p[n]["bias"] for n in ("query", "key", "value"))
    d, t = q.shape[-1] // heads, x.shape[1]
    out = np.zeros(q.shape)
    for b in range(x.shape[0]):
        allowed = np.tril(np.ones((t, t), bool)) if causal else np.ones((t, t), bool)
        allowed &= np.arange(t)[None, :] < (t if lengths is None else lengths[b])
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            logits = q[b, :, cols] @ k[b, :, cols].T / np.sqrt(d)
            w = np.exp(
                np.where(allowed, logits, -np.inf) - logits.max(-1, keepdims=True)
            )
            out[b, :, cols] = (w / w.sum(-1, keepdims=True)) @ v[b, :, cols]
    return out @ p["output"]["weight"] + p["output"]["bias"]


def np_block(params, x, heads, causal=False, lengths=None):
    """x + mha(ln(x)), then + mlp(ln(.)); padded rows zeroed."""
    p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    x = np.asarray(x, np.float64)
    x = x + np_attention(
        p["attention"], np_layer_norm(p["attention_norm"], x), heads, causal, lengths
    )
    m = p["mlp"]
    h = np_gelu(
        np_layer_norm(p["mlp_norm"], x) @ m["hidden"]["weight"] + m["hidden"]["bias"]
    )
    x = x + h @ m["out"]["weight"] + m["out"]["bias"]
    if lengths is not None:
        x = np.where(
            np.arange(x.shape[1])[None, :, None] < lengths[:, None, None], x, 0
        )
    return x


@pytest.fixture(scope="module")
def causal():
    """A causal block with perturbed params (nonzero norms), jitted once."""
    x = normal(0, (2, 5, 6))
    layer = block(3, causal=True, mlp_features=10)
    params, state = jax.jit(layer.init)(jr.key(0), x)
    params = jax.tree_util.tree_map(lambda a: a + normal(1, a.shape) * 0.1, params)
    return x, params, jax.jit(lambda x: layer.apply(params, state, x)[0])


def test_block_matches_a_numpy_pre_layer_norm_reference(causal):
    x, params, apply = causal
    want = np_block(params, x, 3, causal=True)
    np.testing.assert_allclose(apply(x), want, rtol=1e-5, atol=1e-5)
    assert params["mlp"]["hidden"]["weight"].shape == (6, 10)


def test_causal_output_at_t_ignores_later_inputs(causal):
    x, _, apply = causal
    before, after = apply(x), apply(x.at[:, 3:].set(7.0))
    np.testing.assert_array_equal(before[:, :3], after[:, :3])
    assert not np.allclose(before[:, 3:], after[:, 3:])


def test_default_mlp_is_four_times_wider_and_tree_is_stable():
    params, _ = jax.eval_shape(block(2).init, jr.key(0), jnp.zeros((1, 3, 4)))
    assert sorted(params) == ["attention", "attention_norm", "mlp", "mlp_norm"]
    assert sorted(params["mlp"]) == ["hidden", "out"]
    assert params["mlp"]["hidden"]["weight"].shape == (4, 16)


def test_padded_positions_change_nothing_and_come_out_zero():
    x, lengths = normal(3, (2, 6, 4)), jnp.array([6, 3], jnp.int32)
    layer = block(2)
    params, state = jax.jit(layer.init)(jr.key(2), (x, lengths))
    apply = jax.jit(layer.apply)
    (y, got_lengths), _ = apply(params, state, (x, lengths))
    (y2, _), _ = apply(params, state, (x.at[1, 3:].set(99.0), lengths))
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(got_lengths, lengths)
    assert np.all(y[1, 3:] == 0)
    want = np_block(params, x, 2, lengths=np.asarray(lengths))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_dropout_follows_the_key():
    x = normal(4, (2, 5, 4))
    layer = block(2, drop_rate=0.5)
    params, state = jax.eval_shape(layer.init, jr.key(0), x)
    params = jax.tree_util.tree_map(lambda a: normal(5, a.shape), params)
    train = jax.jit(lambda k: layer.apply(params, state, x, key=k, train=True)[0])
    assert not np.allclose(train(jr.key(1)), train(jr.key(2)))
    np.testing.assert_array_equal(train(jr.key(1)), train(jr.key(1)))
    with pytest.raises(ValueError, match="expected a PRNG `key` when train=True"):
        jax.eval_shape(lambda: layer.apply(params, state, x, train=True))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_heads": 0}, ValueError, r"transformer_block: expected `num_heads` > 0"),
        ({"mlp_features": 0}, ValueError, r"expected `mlp_features` > 0"),
        ({"drop_rate": 1.0}, ValueError, r"expected `drop_rate` in \[0, 1\)"),
        (
            {"causal": 1},
            TypeError,
            r"transformer_block: expected `causal` to be a bool",
        ),
        ({"rope": "yes"}, TypeError, r"expected `rope` to be a bool"),
        ({"act": "relux"}, ValueError, r"expected `act` to be one of .*relu"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        block(**{"num_heads": 2, **kwargs})


def test_input_errors():
    with pytest.raises(ValueError, match=r"F_q divisible by `num_heads` = 3"):
        block(3).init(jr.key(0), jnp.zeros((1, 2, 4)))
    with pytest.raises(
        ValueError, match=r"transformer_block: expected input of rank 3"
    ):
        block(2).init(jr.key(0), jnp.zeros((2, 4)))
    with pytest.raises(TypeError, match=r"for self-attention, got a tuple of 2 arrays"):
        block(2).init(jr.key(0), (jnp.zeros((1, 2, 4)), jnp.zeros((1, 3, 4))))
    with pytest.raises(ValueError, match=r"an even head size with `rope=True`"):
        block(2, rope=True).init(jr.key(0), jnp.zeros((1, 2, 6)))
