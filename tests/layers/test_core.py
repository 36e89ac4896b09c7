"""Value and error tests for `dense`, `flatten` and the activation layers."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import JnnError, initializers, layers


def normal(shape, seed=0):
    """Float32 N(0, 1) inputs from NumPy (eager jax.random compiles per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def init_apply(layer, x, key=None):
    params, state = layer.init(jr.key(0) if key is None else key, x)
    return params, layer.apply(params, state, x)[0]


def test_dense_hand_computed():
    layer = layers.dense(3)
    x = jnp.array([[1.0, 2.0]])
    params = {
        "weight": jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        "bias": jnp.array([0.5, -1.0, 0.0]),
    }
    y, state = layer.apply(params, {}, x)
    # [1*1 + 2*4 + 0.5, 1*2 + 2*5 - 1, 1*3 + 2*6 + 0]
    np.testing.assert_array_equal(y, [[9.5, 11.0, 15.0]])
    assert state == {}


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_matches_numpy(use_bias):
    x = normal((2, 3), seed=1)
    params, y = init_apply(layers.dense(4, use_bias=use_bias), x)
    assert sorted(params) == (["bias", "weight"] if use_bias else ["weight"])
    expected = np.asarray(x, np.float64) @ np.asarray(params["weight"], np.float64)
    if use_bias:
        expected += np.asarray(params["bias"], np.float64)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_dense_over_time_axis_equals_flattened():
    layer = layers.dense(4)
    x = normal((2, 5, 3), seed=1)  # (B, T, F)
    params, y = init_apply(layer, x)
    flat, _ = layer.apply(params, {}, x.reshape(10, 3))  # (B*T, F)
    assert y.shape == (2, 5, 4)
    np.testing.assert_allclose(y.reshape(10, 4), flat, rtol=1e-6, atol=1e-6)


def test_dense_unbatched_vector_and_single_feature():
    x = normal((3,), seed=1)
    params, y = init_apply(layers.dense(1), x)
    assert params["weight"].shape == (3, 1)
    assert y.shape == (1,)
    np.testing.assert_allclose(y, x @ params["weight"], rtol=1e-6)


def test_dense_initializers_and_param_dtype():
    layer = layers.dense(
        2,
        w_init=initializers.ones(),
        b_init=initializers.constant(0.5),
        param_dtype=jnp.bfloat16,
    )
    params, _ = layer.init(jr.key(0), jax.ShapeDtypeStruct((1, 3), jnp.bfloat16))
    assert params["weight"].dtype == params["bias"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(params["weight"], np.ones((3, 2)))
    np.testing.assert_array_equal(params["bias"], [0.5, 0.5])


def test_dense_default_init_is_lecun_normal_and_key_dependent():
    spec = jax.ShapeDtypeStruct((1, 3), jnp.float32)
    layer = layers.dense(4)
    params, _ = layer.init(jr.key(0), spec)
    again, _ = layer.init(jr.key(0), spec)
    other, _ = layer.init(jr.key(1), spec)
    np.testing.assert_array_equal(params["weight"], again["weight"])
    assert not np.array_equal(params["weight"], other["weight"])
    np.testing.assert_array_equal(params["bias"], np.zeros(4))
    big, _ = layers.dense(400).init(jr.key(0), jnp.zeros((1, 500)))
    # LeCun-normal: var(weight) = 1 / fan_in; 200k samples give ~0.3% error.
    np.testing.assert_allclose(np.var(big["weight"]), 1 / 500, rtol=0.03)


@pytest.mark.parametrize("features", [0, -2])
def test_dense_non_positive_features_raises(features):
    with pytest.raises(
        ValueError, match=rf"dense: expected `features` > 0, got {features}\."
    ):
        layers.dense(features)


@pytest.mark.parametrize("features", [2.0, True, "4"])
def test_dense_non_int_features_raises(features):
    with pytest.raises(
        TypeError, match=r"dense: expected `features` to be an int, got"
    ):
        layers.dense(features)


WRONG_FEATURES = (
    r"expected input of shape \(\*B, 3\) for weight of shape \(3, 4\), "
    r"got shape \(2, 5\)\."
)


def test_dense_wrong_feature_size_names_both_shapes():
    layer = layers.dense(4)
    params, state = layer.init(jr.key(0), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^dense: " + WRONG_FEATURES):
        layer.apply(params, state, jnp.zeros((2, 5)))


@pytest.mark.parametrize(
    ("wrap", "where"),
    [
        (lambda d: layers.named(hidden=d), "dense at 'hidden'"),
        (lambda d: layers.serial(layers.named(hidden=d)), "dense at '0/hidden'"),
        (lambda d: layers.serial(layers.relu(), d), "dense at '1'"),
    ],
)
def test_dense_error_inside_combinators_names_key_path(wrap, where):
    model = wrap(layers.dense(4))
    params, state = model.init(jr.key(0), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=rf"^{where}: " + WRONG_FEATURES) as info:
        model.apply(params, state, jnp.zeros((2, 5)))
    assert isinstance(info.value, JnnError)


def test_dense_integer_input_raises_type_error():
    layer = layers.dense(4)
    params, state = layer.init(jr.key(0), jnp.zeros((2, 3)))
    with pytest.raises(
        TypeError,
        match=r"dense: expected `x` with a floating dtype, got dtype int32\. Hint: cast",
    ):
        layer.apply(params, state, jnp.zeros((2, 3), jnp.int32))


def test_dense_rank_zero_input_raises():
    layer = layers.dense(4)
    rank0 = r"dense: expected input of rank >= 1 \(\*B, F_in\), got shape \(\)\."
    with pytest.raises(ValueError, match=rank0):
        layer.init(jr.key(0), jnp.zeros(()))
    params, state = layer.init(jr.key(0), jnp.zeros((3,)))
    with pytest.raises(ValueError, match=rank0):
        layer.apply(params, state, jnp.zeros(()))


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((2, 3, 4), (2, 12)), ((2,), (2, 1)), ((2, 3), (2, 3)), ((1, 2, 3, 4), (1, 24))],
)
def test_flatten_shapes_and_row_major_order(shape, expected):
    x = jnp.arange(np.prod(shape), dtype=jnp.float32).reshape(shape)
    params, y = init_apply(layers.flatten(), x)
    assert params == {}
    assert y.shape == expected
    np.testing.assert_array_equal(y, np.arange(np.prod(shape)).reshape(expected))


def test_flatten_rank_zero_raises():
    match = r"flatten: expected input of rank >= 1 \(B, \*D\), got shape \(\)\."
    with pytest.raises(ValueError, match=match):
        layers.flatten().init(jr.key(0), jnp.zeros(()))
    with pytest.raises(ValueError, match=match):
        layers.flatten().apply({}, {}, jnp.zeros(()))


ACTIVATION_LAYERS = [
    ("sigmoid", layers.sigmoid(), jax.nn.sigmoid),
    ("tanh", layers.tanh(), jnp.tanh),
    ("relu", layers.relu(), jax.nn.relu),
    ("leaky_relu", layers.leaky_relu(), lambda x: jax.nn.leaky_relu(x, 0.01)),
    ("leaky_relu_0.2", layers.leaky_relu(0.2), lambda x: jax.nn.leaky_relu(x, 0.2)),
    ("elu", layers.elu(), lambda x: jax.nn.elu(x, 1.0)),
    ("elu_0.5", layers.elu(0.5), lambda x: jax.nn.elu(x, 0.5)),
    ("gelu", layers.gelu(), lambda x: jax.nn.gelu(x, approximate=True)),
    ("gelu_exact", layers.gelu(False), lambda x: jax.nn.gelu(x, approximate=False)),
    ("softplus", layers.softplus(), jax.nn.softplus),
    ("softmax", layers.softmax(), lambda x: jax.nn.softmax(x, axis=-1)),
    ("softmax_0", layers.softmax(axis=0), lambda x: jax.nn.softmax(x, axis=0)),
    ("log_softmax", layers.log_softmax(), lambda x: jax.nn.log_softmax(x, axis=-1)),
    ("log_softmax_0", layers.log_softmax(0), lambda x: jax.nn.log_softmax(x, axis=0)),
    ("identity", layers.identity(), lambda x: x),
    ("by_name", layers.activation("silu"), jax.nn.silu),
    ("kwargs", layers.activation("elu", alpha=2.0), lambda x: jax.nn.elu(x, 2.0)),
    ("callable", layers.activation(jnp.sin), jnp.sin),
]


@pytest.mark.parametrize(
    ("layer", "reference"),
    [(layer, ref) for _, layer, ref in ACTIVATION_LAYERS],
    ids=[name for name, _, _ in ACTIVATION_LAYERS],
)
def test_activation_layer_equals_jax_function(layer, reference):
    x = normal((3, 4), seed=2) * 3.0
    params, state = layer.init(jr.key(0), x)
    y, new_state = layer.apply(params, state, x)
    assert params == state == new_state == {}
    assert y.dtype == x.dtype
    np.testing.assert_allclose(y, reference(x), rtol=1e-6, atol=1e-7)


def test_step_exact_values_including_threshold():
    x = jnp.array([-1.0, -1e-7, -0.0, 0.0, 1e-7, 3.0])
    y, _ = layers.step().apply({}, {}, x)
    np.testing.assert_array_equal(y, [0.0, 0.0, 1.0, 1.0, 1.0, 1.0])  # 0 >= 0
    x = jnp.array([0.49, 0.5, 0.51], jnp.bfloat16)
    y, _ = layers.step(0.5).apply({}, {}, x)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_array_equal(y.astype(jnp.float32), [0.0, 1.0, 1.0])


def test_step_has_zero_gradient():
    def total(x):
        return layers.step().apply({}, {}, x)[0].sum()

    grad = jax.grad(total)(jnp.array([-1.0, 0.5, 2.0]))
    np.testing.assert_array_equal(grad, np.zeros(3))


def test_activation_unknown_name_raises_with_suggestion():
    with pytest.raises(ValueError, match=r"got 'rleu'\. Hint: did you mean 'relu'\?"):
        layers.activation("rleu")


def test_activation_non_callable_raises():
    with pytest.raises(
        TypeError, match=r"activation: expected `fn` to be a name or callable, got 3\."
    ):
        layers.activation(3)


def test_flatten_empty_batch():
    y, _ = layers.flatten().apply({}, {}, jnp.zeros((0, 3, 4)))
    assert y.shape == (0, 12)
