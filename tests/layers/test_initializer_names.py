"""Layers accept initializers by name, resolved and checked in the constructor."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import JnnTypeError, JnnValueError, initializers, layers

# (layer name, build(**init_kwargs), init argument, param leaf it fills, x)
X_SEQ = jnp.ones((2, 3, 4))
CASES = [
    ("dense", layers.dense, "w_init", "weight", jnp.ones((2, 4))),
    ("conv", lambda **kw: layers.conv(3, (3, 3), **kw), "w_init", "weight",
     jnp.ones((2, 5, 5, 4))),
    ("conv_transpose", lambda **kw: layers.conv_transpose(3, (3,), **kw), "b_init",
     "bias", jnp.ones((2, 5, 4))),
    ("embedding", lambda **kw: layers.embedding(10, 4, **kw), "e_init", "embedding",
     jnp.arange(6).reshape(2, 3)),
    ("lstm_cell", lambda **kw: layers.rnn(layers.lstm_cell(5, **kw)), "w_i_init",
     "w_i", X_SEQ),
    ("gru_cell", lambda **kw: layers.rnn(layers.gru_cell(5, **kw)), "w_h_init",
     "w_h", X_SEQ),
    ("simple_rnn_cell", lambda **kw: layers.rnn(layers.simple_rnn_cell(5, **kw)),
     "b_init", "bias", X_SEQ),
]  # fmt: skip


def _build(build, kwargs):
    if build is layers.dense:
        return layers.dense(4, **kwargs)
    return build(**kwargs)


def _leaf(params, leaf):
    pairs = jax.tree_util.tree_leaves_with_path(params)
    found = [v for p, v in pairs if jax.tree_util.keystr(p).endswith(f"['{leaf}']")]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize(("where", "build", "arg", "leaf", "x"), CASES)
def test_a_name_gives_the_same_params_as_the_initializer(where, build, arg, leaf, x):
    del where
    by_name = _build(build, {arg: "ones"}).init(jr.key(0), x)[0]
    by_value = _build(build, {arg: initializers.ones()}).init(jr.key(0), x)[0]
    jax.tree.map(np.testing.assert_array_equal, by_name, by_value)
    np.testing.assert_array_equal(_leaf(by_name, leaf), 1.0)


@pytest.mark.parametrize(("where", "build", "arg", "leaf", "x"), CASES)
def test_a_misspelt_name_fails_in_the_constructor(where, build, arg, leaf, x):
    del leaf, x
    match = (
        rf"^{where}: expected `{arg}` to be an initializer or one of \[.*'he_normal'"
        r".*\], got 'he_norml'\. Hint: did you mean 'he_normal'\?$"
    )
    with pytest.raises(JnnValueError, match=match):
        _build(build, {arg: "he_norml"})


@pytest.mark.parametrize(("where", "build", "arg", "leaf", "x"), CASES)
def test_a_non_callable_fails_in_the_constructor(where, build, arg, leaf, x):
    del leaf, x
    match = (
        rf"^{where}: expected `{arg}` to be an initializer or one of .*, got 0\.1\.$"
    )
    with pytest.raises(JnnTypeError, match=match):
        _build(build, {arg: 0.1})


def test_names_that_need_arguments_point_to_the_factory():
    match = r"got 'constant'\. Hint: 'constant' takes arguments; pass jnn\.initi"
    with pytest.raises(JnnValueError, match=match + r"alizers\.constant\(\.\.\.\)"):
        layers.dense(2, b_init="constant")


def test_conv_name_matches_the_glorot_factory():
    x = jnp.ones((1, 6, 6, 2))
    named = layers.conv(3, (3, 3), w_init="glorot_uniform").init(jr.key(1), x)[0]
    built = layers.conv(3, (3, 3), w_init=initializers.glorot_uniform())
    np.testing.assert_array_equal(
        named["weight"], built.init(jr.key(1), x)[0]["weight"]
    )


def test_resolve_keeps_defaults_and_callables():
    default, mine = initializers.zeros(), initializers.ones()
    assert initializers.resolve("dense", "w_init", None, default) is default
    assert initializers.resolve("dense", "w_init", mine, default) is mine
    assert "constant" not in initializers.BARE_NAMES
    assert {"he_normal", "orthogonal", "normal"} <= set(initializers.BARE_NAMES)
