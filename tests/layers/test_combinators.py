"""Value and error tests for `serial`, `named`, `parallel`, `concatenate`, `residual`."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import layers


def normal(shape, seed=0):
    """Float32 N(0, 1) inputs from NumPy (eager jax.random compiles per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def affine(params, x):
    return x @ params["weight"] + params["bias"][None, :]


def leaf_paths(tree):
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return sorted(jax.tree_util.keystr(path) for path, _ in flat)


def assert_trees_equal(a, b):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for u, v in zip(
        jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True
    ):
        np.testing.assert_array_equal(u, v)


X = normal((2, 3), seed=1)
TIMES_TWO = layers.activation(lambda x: 2.0 * x)
PLUS_ONE = layers.activation(lambda x: x + 1.0)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (layers.serial(TIMES_TWO, PLUS_ONE), 7.0),  # (3 * 2) + 1
        (layers.serial(PLUS_ONE, TIMES_TWO), 8.0),  # (3 + 1) * 2
        (layers.named(b=PLUS_ONE, a=TIMES_TWO), 8.0),  # keyword order, not sorted
    ],
)
def test_combinators_apply_in_order(model, expected):
    x = jnp.full((1, 1), 3.0)
    params, state = model.init(jr.key(0), x)
    np.testing.assert_array_equal(model.apply(params, state, x)[0], [[expected]])


def test_serial_equals_manual_composition():
    model = layers.serial(layers.dense(4), layers.relu(), layers.dense(2))
    params, state = model.init(jr.key(0), X)
    y, new_state = model.apply(params, state, X)
    assert isinstance(params, tuple) and params[1] == {}
    assert new_state == ({}, {}, {})
    expected = affine(params[2], jax.nn.relu(affine(params[0], X)))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


def test_named_has_readable_paths_and_equals_manual():
    model = layers.named(hidden=layers.dense(4), act=layers.relu(), out=layers.dense(2))
    params, state = model.init(jr.key(0), X)
    assert list(params) == ["hidden", "act", "out"]
    assert leaf_paths(params) == [
        "['hidden']['bias']",
        "['hidden']['weight']",
        "['out']['bias']",
        "['out']['weight']",
    ]
    assert state == {"hidden": {}, "act": {}, "out": {}}
    y, _ = model.apply(params, state, X)
    expected = affine(params["out"], jax.nn.relu(affine(params["hidden"], X)))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


def test_serial_append_keeps_earlier_init():
    short, _ = layers.serial(layers.dense(4)).init(jr.key(0), X)
    longer, _ = layers.serial(layers.dense(4), layers.dense(2)).init(jr.key(0), X)
    assert_trees_equal(longer[0], short[0])


def test_serial_positions_get_different_keys():
    x = jnp.zeros((1, 4))
    params, _ = layers.serial(layers.dense(4), layers.dense(4)).init(jr.key(0), x)
    assert not np.array_equal(params[0]["weight"], params[1]["weight"])


def test_named_append_and_insert_keep_other_inits():
    d = layers.dense
    base, _ = layers.named(a=d(4), c=d(2)).init(jr.key(0), X)
    appended, _ = layers.named(a=d(4), c=d(2), z=d(3)).init(jr.key(0), X)
    inserted, _ = layers.named(a=d(4), b=d(4), c=d(2)).init(jr.key(0), X)
    for other in (appended, inserted):
        assert_trees_equal(other["a"], base["a"])
        assert_trees_equal(other["c"], base["c"])  # c still sees 4 inputs


def test_named_key_depends_on_name():
    a, _ = layers.named(a=layers.dense(4)).init(jr.key(0), X)
    z, _ = layers.named(z=layers.dense(4)).init(jr.key(0), X)
    assert not np.array_equal(a["a"]["weight"], z["z"]["weight"])


def test_parallel_concatenate_equals_manual():
    fan_out = layers.parallel(layers.dense(2), layers.identity())
    params, state = fan_out.init(jr.key(0), X)
    ys, _ = fan_out.apply(params, state, X)
    assert isinstance(ys, tuple) and len(ys) == 2
    np.testing.assert_array_equal(ys[1], X)
    model = layers.serial(fan_out, layers.concatenate())
    y, _ = model.apply((params, {}), (state, {}), X)
    expected = np.concatenate([affine(params[0], X), X], axis=-1)
    assert y.shape == (2, 5)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


def test_concatenate_other_axis():
    a, b = jnp.ones((2, 3)), jnp.zeros((1, 3))
    y, _ = layers.concatenate(axis=0).apply({}, {}, (a, b))
    np.testing.assert_array_equal(y, np.concatenate([a, b], axis=0))


@pytest.mark.parametrize(
    ("axis", "shapes"),
    [(-1, [(2, 3), (3, 4)]), (0, [(2, 3), (3, 4)]), (-1, [(2, 3), (2, 1, 3)])],
)
def test_concatenate_mismatch_raises(axis, shapes):
    xs = tuple(jnp.zeros(s) for s in shapes)
    match = rf"concatenate: expected inputs equal in every axis but {axis}, got"
    with pytest.raises(ValueError, match=match):
        layers.concatenate(axis).apply({}, {}, xs)
    with pytest.raises(ValueError, match=match):
        layers.concatenate(axis).init(jr.key(0), xs)


def test_residual_identity_equals_body_plus_x():
    model = layers.residual(layers.dense(3))
    params, state = model.init(jr.key(0), X)
    assert params["shortcut"] == {}
    y, new_state = model.apply(params, state, X)
    assert new_state == {"body": {}, "shortcut": {}}
    np.testing.assert_allclose(y, affine(params["body"], X) + X, rtol=1e-6, atol=1e-6)


def test_residual_projection_equals_body_plus_shortcut():
    model = layers.residual(layers.dense(4), shortcut=layers.dense(4, use_bias=False))
    params, state = model.init(jr.key(0), X)
    y, _ = model.apply(params, state, X)
    expected = affine(params["body"], X) + X @ params["shortcut"]["weight"]
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert not np.array_equal(params["body"]["weight"], params["shortcut"]["weight"])


RESIDUAL_MISMATCH = (
    r"expected body and shortcut outputs of equal shape and dtype, "
    r"got \(2, 4\) float32 vs \(2, 3\) float32\. "
    r"Hint: pass a projection, e.g. residual\(body, shortcut=dense\(F\)\)\."
)


def test_residual_shape_mismatch_raises_with_hint():
    model = layers.residual(layers.dense(4))
    params, state = model.init(jr.key(0), X)
    with pytest.raises(ValueError, match=r"^residual: " + RESIDUAL_MISMATCH):
        model.apply(params, state, X)
    # Inside serial the check already fires at init (output specs are traced).
    with pytest.raises(ValueError, match=r"^residual at '0': " + RESIDUAL_MISMATCH):
        layers.serial(model).init(jr.key(0), X)


UNCALLED = (
    r"expected a Layer at position 0, got function\. "
    r"Hint: layer constructors must be called, e.g. flatten\(\) not flatten\."
)


@pytest.mark.parametrize(
    ("where", "build"),
    [
        ("serial", lambda: layers.serial(layers.flatten)),
        ("named", lambda: layers.named(a=layers.flatten)),
        ("parallel", lambda: layers.parallel(layers.flatten)),
        ("residual", lambda: layers.residual(layers.flatten)),
    ],
)
def test_uncalled_constructor_raises_type_error(where, build):
    with pytest.raises(TypeError, match=rf"^{where}: " + UNCALLED):
        build()


@pytest.mark.parametrize("build", [layers.named, layers.parallel])
def test_empty_named_and_parallel_raise(build):
    name = build.__name__
    with pytest.raises(
        ValueError, match=rf"{name}: expected at least one layer, got none\."
    ):
        build()


def test_serial_wrong_number_of_entries_raises():
    model = layers.serial(layers.dense(4), layers.relu())
    params, state = model.init(jr.key(0), X)
    with pytest.raises(
        ValueError, match=r"serial: expected params with 2 entries \(one per layer\)"
    ):
        model.apply(params[:1], state, X)
    with pytest.raises(
        ValueError, match=r"serial: expected state with 2 entries \(one per layer\)"
    ):
        model.apply(params, (*state, {}), X)
    with pytest.raises(ValueError, match=r"serial: expected params .* got dict\."):
        model.apply({}, state, X)


def test_named_wrong_entries_raise():
    model = layers.named(a=layers.dense(4), b=layers.relu())
    params, state = model.init(jr.key(0), X)
    with pytest.raises(
        ValueError,
        match=r"named: expected params with keys \['a', 'b'\] .*, got \['a'\]\.",
    ):
        model.apply({"a": params["a"]}, state, X)
    with pytest.raises(
        ValueError, match=r"named: expected state with keys \['a', 'b'\]"
    ):
        model.apply(params, {**state, "c": {}}, X)


def test_parallel_wrong_number_of_params_raises():
    model = layers.parallel(layers.dense(4), layers.relu())
    params, state = model.init(jr.key(0), X)
    with pytest.raises(
        ValueError, match=r"parallel: expected params with 2 entries \(one per layer\)"
    ):
        model.apply(params[:1], state, X)


def test_combinators_jit_matches_eager():
    model = layers.serial(
        layers.named(hidden=layers.dense(4), act=layers.tanh()),
        layers.residual(layers.dense(4)),
    )
    params, state = model.init(jr.key(0), X)
    eager, _ = model.apply(params, state, X)
    jitted, _ = jax.jit(model.apply)(params, state, X)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)


def test_parallel_short_state_and_residual_missing_entry_raise():
    model = layers.parallel(layers.dense(4), layers.relu())
    params, state = model.init(jr.key(0), X)
    with pytest.raises(ValueError, match=r"parallel: expected state with 2 entries"):
        model.apply(params, state[:1], X)
    res = layers.residual(layers.relu())
    p, s = res.init(jr.key(0), X)
    with pytest.raises(ValueError, match=r"residual: expected params with keys"):
        res.apply({"body": p["body"]}, s, X)


def test_concatenate_rejects_a_bare_array():
    with pytest.raises(TypeError, match="concatenate: expected a tuple or list"):
        layers.concatenate().apply({}, {}, jnp.zeros((2, 3, 4)))
