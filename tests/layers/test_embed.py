"""Embedding: lookup equals indexing, gradients are scatter-adds, errors."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import initializers
from jnn.layers.embed import embedding

pytestmark = pytest.mark.usefixtures("fast_compiles")

V, F = 7, 3


def table_layer():
    layer = embedding(V, F)
    params, state = layer.init(jr.key(0), jnp.zeros((2,), jnp.int32))
    return layer, params, state


@pytest.mark.parametrize("shape", [(), (5,), (2, 4)])
def test_lookup_equals_numpy_indexing(shape):
    layer, params, state = table_layer()
    ids = np.random.default_rng(0).integers(0, V, shape)
    y, new_state = layer.apply(params, state, jnp.asarray(ids))
    assert y.shape == (*shape, F) and new_state == {}
    np.testing.assert_array_equal(y, np.asarray(params["embedding"])[ids])


def test_jit_matches_eager_and_does_not_retrace():
    layer, params, state = table_layer()
    traces = []

    @jax.jit
    def f(p, ids):
        traces.append(1)  # Python side effect: runs only while tracing
        return layer.apply(p, state, ids)[0]

    ids = jnp.array([[0, 6, 2], [2, 2, 5]])
    np.testing.assert_array_equal(f(params, ids), layer.apply(params, state, ids)[0])
    f(params, ids[::-1])
    assert len(traces) == 1


def test_out_of_range_ids_under_jit_give_nan_rows():
    layer, params, state = table_layer()
    y = jax.jit(lambda ids: layer.apply(params, state, ids)[0])(jnp.array([1, -1, V]))
    np.testing.assert_array_equal(y[0], params["embedding"][1])
    assert np.all(np.isnan(y[1:]))  # -1 is not wrapped to the last row


def test_gradient_counts_each_id():
    layer, params, state = table_layer()
    ids = jnp.array([[1, 3, 1], [6, 1, 0]])
    grad = jax.grad(lambda p: jnp.sum(layer.apply(p, state, ids)[0]))(params)
    counts = np.bincount(np.asarray(ids).ravel(), minlength=V)  # hand-derived
    np.testing.assert_array_equal(grad["embedding"], np.repeat(counts[:, None], F, 1))


def test_init_default_is_unit_normal_and_configurable():
    layer = embedding(2000, 4)
    params, state = layer.init(jr.key(1), jnp.zeros((1,), jnp.int32))
    table = np.asarray(params["embedding"])
    assert table.shape == (2000, 4) and table.dtype == np.float32 and state == {}
    assert abs(table.std() - 1.0) < 0.05 and abs(table.mean()) < 0.05
    custom = embedding(V, F, e_init=initializers.constant(0.5))
    np.testing.assert_array_equal(
        custom.init(jr.key(0), jnp.zeros((1,), jnp.int32))[0]["embedding"],
        np.full((V, F), 0.5),
    )


def test_init_from_spec_and_param_dtype():
    layer = embedding(V, F, param_dtype=jnp.bfloat16)
    spec = jax.ShapeDtypeStruct((4, 2), jnp.int32)
    params, _ = layer.init(jr.key(0), spec)
    assert params["embedding"].shape == (V, F)
    assert params["embedding"].dtype == jnp.bfloat16


def test_bad_hyperparameters_raise():
    with pytest.raises(ValueError, match=r"embedding: expected `num_embeddings` > 0"):
        embedding(0, F)
    with pytest.raises(TypeError, match=r"expected `features` to be an int, got 'a'"):
        embedding(V, "a")


def test_non_integer_ids_raise():
    layer, params, state = table_layer()
    match = r"embedding: expected integer token ids, got dtype float32"
    with pytest.raises(TypeError, match=match):
        layer.apply(params, state, jnp.zeros((2,)))
    with pytest.raises(TypeError, match=match):
        layer.init(jr.key(0), jax.ShapeDtypeStruct((2,), jnp.float32))
    with pytest.raises(TypeError, match=r"got dtype bool"):
        layer.apply(params, state, jnp.array([True]))


def test_out_of_range_ids_raise_naming_them():
    layer, params, state = table_layer()
    match = r"expected token ids in \[0, 7\) .*, got out-of-range ids \[-1, 7, 9\]"
    with pytest.raises(ValueError, match=match):
        layer.apply(params, state, jnp.array([[0, 7, -1], [9, 7, 6]]))
