"""Weight penalties: hand values, selection by key path, gradients, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn import penalties
from jnn._checks import JnnTypeError


def _params():
    return {
        "hidden": {"weight": jnp.array([[1.0, -2.0]]), "bias": jnp.array([10.0])},
        "out": {"weight": jnp.array([[0.5], [-3.0]]), "bias": jnp.array([-7.0])},
        "embed": {"embedding": jnp.array([[2.0]])},
    }


def test_hand_values_exclude_biases():
    params = _params()
    # |1| + |-2| + |0.5| + |-3| + |2| = 8.5; biases 10 and -7 are ignored.
    assert penalties.l1(params) == pytest.approx(8.5)
    # 1 + 4 + 0.25 + 9 + 4 = 18.25 (no 1/2 factor).
    assert penalties.l2(params) == pytest.approx(18.25)
    assert (
        penalties.l2(params).shape == () and penalties.l2(params).dtype == jnp.float32
    )


def test_weight_mask_structure_and_values():
    mask = penalties.weight_mask(_params())
    assert jax.tree_util.tree_structure(mask) == jax.tree_util.tree_structure(_params())
    assert mask == {
        "hidden": {"weight": True, "bias": False},
        "out": {"weight": True, "bias": False},
        "embed": {"embedding": True},
    }


def test_weight_mask_works_as_optax_mask():
    params = _params()
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    for mask in (penalties.weight_mask(params), penalties.weight_mask):
        decay = optax.add_decayed_weights(0.1, mask=mask)
        updates, _ = decay.update(zeros, decay.init(params), params)
        w = params["out"]["weight"]
        np.testing.assert_allclose(updates["out"]["weight"], 0.1 * w)
        np.testing.assert_array_equal(updates["out"]["bias"], [0.0])


def test_custom_include():
    params = _params()

    def only_hidden(path):
        return getattr(path[0], "key", None) == "hidden"

    # All leaves under "hidden", biases included: 1 + 2 + 10.
    assert penalties.l1(params, include=only_hidden) == pytest.approx(13.0)
    assert penalties.l2(params, include=lambda path: True) == pytest.approx(
        18.25 + 100.0 + 49.0
    )
    mask = penalties.weight_mask(params, include=only_hidden)
    assert mask["hidden"] == {"weight": True, "bias": True}
    assert mask["out"] == {"weight": False, "bias": False}


def test_grad_of_l2_is_2w_on_weights_and_0_on_biases():
    params = _params()
    grads = jax.grad(penalties.l2)(params)
    for name in ("hidden", "out"):
        np.testing.assert_allclose(grads[name]["weight"], 2 * params[name]["weight"])
        np.testing.assert_array_equal(grads[name]["bias"], [0.0])
    # d|w|/dw = sign(w) for l1.
    l1_grads = jax.grad(penalties.l1)(params)
    np.testing.assert_array_equal(l1_grads["hidden"]["weight"], [[1.0, -1.0]])


def test_empty_selection_is_float32_zero():
    for fn in (penalties.l1, penalties.l2):
        for params in ({}, {"bias": jnp.ones(3)}):
            value = fn(params)
            assert value.dtype == jnp.float32 and float(value) == 0.0


def test_jit_matches_eager_on_serial_style_tuple_tree():
    # `layers.serial` params are a tuple of per-layer dicts (SequenceKey, DictKey).
    w0, w2 = jnp.array([[1.0, 2.0]]), jnp.array([[3.0], [-1.0]])
    params = ({"weight": w0, "bias": jnp.ones(2)}, {}, {"weight": w2})
    assert penalties.l2(params) == pytest.approx(15.0)  # 1 + 4 + 9 + 1
    assert jax.jit(penalties.l2)(params) == pytest.approx(15.0)
    assert penalties.weight_mask(params)[0] == {"weight": True, "bias": False}


def test_default_include_paths():
    dk, sk = jax.tree_util.DictKey, jax.tree_util.SequenceKey
    assert penalties.default_include((sk(0), dk("weight")))
    assert penalties.default_include((dk("embedding"),))
    assert not penalties.default_include((dk("weight"), dk("bias")))
    assert not penalties.default_include((dk("scale"),))
    assert not penalties.default_include(())


def test_mixed_precision_sums_in_widest_dtype():
    params = {"a": {"weight": jnp.ones(2, jnp.bfloat16)}, "b": {"weight": jnp.ones(3)}}
    value = penalties.l2(params)
    assert value.dtype == jnp.float32 and float(value) == 5.0


def test_non_float_selected_leaf_raises():
    params = {"weight": jnp.ones(2, jnp.int32)}
    with pytest.raises(JnnTypeError, match=r"^l2: .*got dtype int32 at \['weight'\]"):
        penalties.l2(params)
    with pytest.raises(JnnTypeError, match=r"^l1: .*Hint: exclude the leaf"):
        penalties.l1(params)
