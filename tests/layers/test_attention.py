"""Values of `multi_head_attention`, `dot_product_attention` and the position layers."""

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.test_util
import numpy as np
import pytest

from jnn import layers

pytestmark = pytest.mark.usefixtures("fast_compiles")

mha = layers.multi_head_attention


def normal(seed, shape, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def np_softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_mha(params, x_q, x_kv, heads, causal=False, kv_lengths=None):
    """NumPy multi-head attention, written out head by head (float64)."""
    p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    x_q, x_kv = np.asarray(x_q, np.float64), np.asarray(x_kv, np.float64)

    def proj(name, a):
        return a @ p[name]["weight"] + p[name]["bias"]

    q, k, v = proj("query", x_q), proj("key", x_kv), proj("value", x_kv)
    d = q.shape[-1] // heads
    tq, tk = q.shape[1], k.shape[1]
    out = np.zeros((*q.shape[:2], heads * d))
    for b in range(q.shape[0]):
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            logits = q[b, :, cols] @ k[b, :, cols].T / np.sqrt(d)  # (Tq, Tk)
            allowed = np.ones((tq, tk), bool)
            if causal:
                allowed &= np.tril(allowed)
            if kv_lengths is not None:
                allowed &= np.arange(tk)[None, :] < int(kv_lengths[b])
            logits = np.where(allowed, logits, -np.inf)
            out[b, :, cols] = np_softmax(logits) @ v[b, :, cols]
    return out @ p["output"]["weight"] + p["output"]["bias"]


def build(layer, x, seed=0):
    params, state = layer.init(jr.key(seed), x)
    return params, state


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_matches_numpy(causal):
    x = normal(0, (2, 5, 6))
    layer = mha(3, causal=causal)
    params, state = build(layer, x)
    y, _ = layer.apply(params, state, x)
    want = np_mha(params, x, x, 3, causal=causal)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-5, atol=1e-5)


def test_cross_attention_with_lengths_matches_numpy():
    x_q, x_kv, lengths = normal(1, (2, 4, 3)), normal(2, (2, 6, 5)), [6, 2]
    layer = mha(2, 4, out_features=7)
    lengths = jnp.array(lengths, jnp.int32)
    params, state = build(layer, (x_q, x_kv, lengths))
    y, _ = layer.apply(params, state, (x_q, x_kv, lengths))
    assert y.shape == (2, 4, 7)
    want = np_mha(params, x_q, x_kv, 2, kv_lengths=np.asarray(lengths))
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-5, atol=1e-5)


def test_padded_self_attention_zeroes_padding_and_matches_numpy():
    x, lengths = normal(3, (2, 5, 4)), jnp.array([5, 3], jnp.int32)
    layer = mha(2)
    params, state = build(layer, (x, lengths))
    (y, out_lengths), _ = layer.apply(params, state, (x, lengths))
    assert out_lengths is lengths
    want = np_mha(params, x, x, 2, kv_lengths=np.asarray(lengths))
    np.testing.assert_allclose(np.asarray(y[1, :3]), want[1, :3], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(y[0]), want[0], rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(y[1, 3:]) == 0.0)


def test_check_grads_float64(x64):
    x = normal(4, (1, 3, 4), jnp.float64)
    layer = mha(2, causal=True)
    params, state = build(layer, x)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)

    def f(p, x):
        return layer.apply(p, state, x)[0]

    jax.test_util.check_grads(jax.jit(f), (params, x), order=1, modes=["rev"])


def test_check_grads_float64_unequal_value_size(x64):
    q, k = normal(5, (1, 3, 2, 2), jnp.float64), normal(6, (1, 4, 2, 2), jnp.float64)
    v = normal(7, (1, 4, 2, 3), jnp.float64)
    f = jax.jit(layers.dot_product_attention)  # jit: one compile, not eager ops
    jax.test_util.check_grads(f, (q, k, v), order=1, modes=["rev"])


def test_causal_output_ignores_later_inputs():
    x = normal(8, (1, 5, 4))
    layer = mha(2, causal=True)
    params, state = build(layer, x)
    jac = jax.jit(jax.jacrev(lambda x: layer.apply(params, state, x)[0]))(x)
    jac = np.abs(np.asarray(jac)).sum(axis=(0, 2, 3, 5))  # (T_out, T_in)
    assert np.all(np.triu(jac, k=1) == 0.0)  # out t, in s > t: zero gradient
    assert np.all(np.diag(jac) > 0.0)


def test_changing_padded_keys_changes_nothing():
    x_q, x_kv = normal(9, (2, 3, 4)), normal(10, (2, 5, 4))
    lengths = jnp.array([2, 4], jnp.int32)
    layer = mha(2)
    params, state = build(layer, (x_q, x_kv, lengths))
    padded = jnp.arange(5)[None, :, None] >= lengths[:, None, None]  # (B, Tk, 1)
    junk = jnp.where(padded, 100.0, x_kv)
    y, _ = layer.apply(params, state, (x_q, x_kv, lengths))
    y_junk, _ = layer.apply(params, state, (x_q, junk, lengths))
    np.testing.assert_allclose(np.asarray(y_junk), np.asarray(y), rtol=1e-6)


def test_changing_padded_steps_changes_nothing_in_self_attention():
    x, lengths = normal(11, (2, 5, 4)), jnp.array([5, 2], jnp.int32)
    layer = mha(2)
    params, state = build(layer, (x, lengths))
    junk = x.at[1, 2:].set(7.0)
    (y, _), _ = layer.apply(params, state, (x, lengths))
    (y_junk, _), _ = layer.apply(params, state, (junk, lengths))
    np.testing.assert_allclose(np.asarray(y_junk), np.asarray(y), rtol=1e-6)


def test_one_head_with_identity_projections_is_plain_attention():
    x, f = normal(12, (2, 4, 3)), 3
    layer = mha(1, f)
    params, state = build(layer, x)
    eye = {"weight": jnp.eye(f), "bias": jnp.zeros(f)}
    params = {name: eye for name in params}
    y, _ = layer.apply(params, state, x)
    xn = np.asarray(x, np.float64)
    want = np_softmax(xn @ xn.transpose(0, 2, 1) / np.sqrt(f)) @ xn
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-5, atol=1e-6)


def test_fused_and_einsum_paths_agree():
    q, k, v = (
        normal(13, (2, 3, 2, 4)),
        normal(14, (2, 5, 2, 4)),
        normal(15, (2, 5, 2, 4)),
    )
    mask = jnp.arange(5)[None, None, None, :] < 4
    fused = layers.dot_product_attention(q, k, v, mask=mask, causal=True)
    v_pad = jnp.concatenate([v, jnp.zeros((2, 5, 2, 1))], axis=-1)  # Dv != D
    einsum = layers.dot_product_attention(q, k, v_pad, mask=mask, causal=True)
    np.testing.assert_allclose(
        np.asarray(einsum[..., :4]), np.asarray(fused), atol=1e-6
    )


def test_dropout_only_in_train_mode():
    x = normal(16, (2, 5, 4))
    plain, dropped = mha(2), mha(2, drop_rate=0.5)
    params, state = build(plain, x)
    y_eval, _ = dropped.apply(params, state, x)
    np.testing.assert_array_equal(
        np.asarray(y_eval), np.asarray(plain.apply(params, state, x)[0])
    )
    y_train, _ = dropped.apply(params, state, x, key=jr.key(0), train=True)
    assert not np.allclose(np.asarray(y_train), np.asarray(y_eval))


def test_sinusoidal_positions_table():
    x = normal(17, (2, 6, 5))
    y, _ = layers.sinusoidal_positions().apply({}, {}, x)
    t, i = np.arange(6)[:, None], np.arange(5)[None, :]
    angle = t / 10000.0 ** (2 * (i // 2) / 5)
    table = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    np.testing.assert_allclose(
        np.asarray(y - x), np.broadcast_to(table, (2, 6, 5)), atol=1e-6
    )


def test_learned_positions_adds_the_first_rows():
    x = normal(18, (2, 3, 4))
    layer = layers.learned_positions(5)
    params, state = layer.init(jr.key(0), x)
    y, _ = layer.apply(params, state, x)
    want = np.asarray(x) + np.asarray(params["embedding"])[None, :3]
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-6)


X = jnp.zeros((2, 5, 4))
LEN = jnp.array([5, 2], jnp.int32)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: mha(0), ValueError, r"`num_heads` > 0"),
        (lambda: mha(2.0), TypeError, r"`num_heads` to be an int"),
        (lambda: mha(2, 0), ValueError, r"`head_size` > 0"),
        (lambda: mha(2, out_features=-1), ValueError, r"`out_features` > 0"),
        (lambda: mha(2, drop_rate=1.0), ValueError, r"`drop_rate` in \[0, 1\)"),
        (lambda: mha(2, causal=1), TypeError, r"`causal` to be a bool"),
        (
            lambda: mha(2, w_init="he_nromal"),
            ValueError,
            r"multi_head_attention: .*`w_init`",
        ),
        (lambda: layers.sinusoidal_positions(0.5), ValueError, r"`base` finite"),
        (lambda: layers.sinusoidal_positions("x"), TypeError, r"`base` to be a number"),
        (lambda: layers.learned_positions(0), ValueError, r"`max_len` > 0"),
        (lambda: layers.learned_positions(2.0), TypeError, r"`max_len` to be an int"),
    ],
)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("layer", "x", "error", "match"),
    [
        (mha(3), X, ValueError, r"F_q divisible by `num_heads` = 3"),
        (mha(2), X[0], ValueError, r"input of rank 3 \(B, T, F\)"),
        (mha(2), X.astype(jnp.int32), TypeError, r"floating dtype"),
        (mha(2), (X, X, LEN, LEN), TypeError, r"tuple of 2 or 3 arrays, got 4 items"),
        (
            mha(2),
            (X, X[:1]),
            ValueError,
            r"one batch size, got shapes \(2, 5, 4\) and \(1, 5, 4\)",
        ),
        (mha(2), (X, LEN[:1]), ValueError, r"`lengths` of shape \(2,\)"),
        (mha(2), (X, LEN.astype(jnp.float32)), TypeError, r"`lengths` with an integer"),
        (mha(2), (X, X, LEN + 1), ValueError, r"`lengths` in \[0, T\]"),
        (layers.sinusoidal_positions(), X[0], ValueError, r"input of rank 3"),
        (layers.learned_positions(4), X, ValueError, r"at most `max_len` = 4 steps"),
    ],
)
def test_input_errors(layer, x, error, match):
    with pytest.raises(error, match=match):
        layer.init(jr.key(0), x)


def test_train_without_key_raises():
    x, layer = X, mha(2, drop_rate=0.1)
    params, state = build(layer, x)
    with pytest.raises(ValueError, match=r"expected a PRNG `key` when train=True"):
        layer.apply(params, state, x, train=True)
    layer.apply(params, state, x, train=False)  # eval needs no key


@pytest.mark.parametrize(
    ("shapes", "error", "match"),
    [
        (((2, 3, 4), (2, 5, 2, 4), (2, 5, 2, 4)), ValueError, r"rank 4 .* for `q`"),
        (
            ((2, 3, 2, 4), (2, 5, 2, 3), (2, 5, 2, 4)),
            ValueError,
            r"`k` of shape .*\(2, 3, 2, 4\), got `k` of shape \(2, 5, 2, 3\)",
        ),
        (
            ((2, 3, 2, 4), (2, 5, 2, 4), (2, 6, 2, 4)),
            ValueError,
            r"`v` of shape .*\(2, 5, 2, 4\), got `v` of shape \(2, 6, 2, 4\)",
        ),
    ],
)
def test_dot_product_attention_shape_errors(shapes, error, match):
    q, k, v = (jnp.zeros(s) for s in shapes)
    with pytest.raises(error, match=match):
        layers.dot_product_attention(q, k, v)


def test_dot_product_attention_dtype_errors():
    q = jnp.zeros((1, 2, 1, 2))
    with pytest.raises(TypeError, match=r"`q` with a floating dtype"):
        layers.dot_product_attention(q.astype(jnp.int32), q, q)
    with pytest.raises(TypeError, match=r"`x_q` and `x_kv` of one dtype"):
        mha(2).init(jr.key(0), (X, X.astype(jnp.bfloat16)))
    with pytest.raises(TypeError, match=r"`q`, `k`, `v` of one dtype"):
        layers.dot_product_attention(q, q.astype(jnp.bfloat16), q)


def np_rope(x, positions, base=10000.0):
    """NumPy RoPE, rotate-half layout: pair (i, i + D/2) turns by t / base^(2i/D)."""
    x = np.asarray(x, np.float64)
    half = x.shape[-1] // 2
    angle = np.asarray(positions, np.float64)[:, None] / base ** (
        2 * np.arange(half) / x.shape[-1]
    )
    cos, sin = np.cos(angle)[None, :, None], np.sin(angle)[None, :, None]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def test_apply_rope_matches_numpy():
    x = normal(19, (2, 5, 3, 6))
    got = layers.apply_rope(x, jnp.arange(5))
    np.testing.assert_allclose(np.asarray(got), np_rope(x, np.arange(5)), atol=1e-5)


def test_rope_scores_depend_on_relative_position_only():
    q, k = normal(20, (1, 1, 1, 4)), normal(21, (1, 1, 1, 4))

    def score(m, n):
        rq = layers.apply_rope(q, jnp.array([m]))
        rk = layers.apply_rope(k, jnp.array([n]))
        return float(jnp.sum(rq * rk))

    assert score(3, 1) == pytest.approx(score(7, 5), rel=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), rel=1e-3)


def test_rope_layer_matches_manual_rotation(x64):
    x = normal(22, (1, 4, 4), jnp.float64)
    layer = mha(1, 4, rope=True)
    params, state = build(layer, x)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    eye = {"weight": jnp.eye(4, dtype=jnp.float64), "bias": jnp.zeros(4, jnp.float64)}
    params = {"query": eye, "key": eye, "value": eye, "output": eye}
    y, _ = layer.apply(params, state, x)
    r = np_rope(np.asarray(x)[:, :, None], np.arange(4))[:, :, 0]  # (B, T, F)
    want = np_softmax(r @ r.transpose(0, 2, 1) / 2.0) @ np.asarray(x)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-6)
    f = jax.jit(lambda p, x: layer.apply(p, state, x)[0])
    jax.test_util.check_grads(f, (params, x), order=1, modes=["rev"])


def test_rope_errors():
    with pytest.raises(ValueError, match=r"even `head_size` with `rope=True`"):
        mha(2, 3, rope=True)
    with pytest.raises(TypeError, match=r"`rope` to be a bool"):
        mha(2, rope=1)
    with pytest.raises(ValueError, match=r"even head size with `rope=True`, got head"):
        mha(4, rope=True).init(jr.key(0), jnp.zeros((1, 2, 12)))
    x = jnp.zeros((1, 3, 2, 4))
    with pytest.raises(ValueError, match=r"even head size D, got D = 3"):
        layers.apply_rope(x[..., :3], jnp.arange(3))
    with pytest.raises(ValueError, match=r"`positions` of shape \(T,\) or \(B, T\)"):
        layers.apply_rope(x, jnp.arange(4))
    with pytest.raises(ValueError, match=r"input of rank 4"):
        layers.apply_rope(x[0], jnp.arange(3))
