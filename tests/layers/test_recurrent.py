"""Sequence layers: masking equals one-by-one runs, reverse and bidirectional
identities, stacking, one compile per sequence length, contract checks."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import initializers
from jnn.layers.cells import Cell, gru_cell, lstm_cell, simple_rnn_cell
from jnn.layers.combinators import named, serial
from jnn.layers.recurrent import bidirectional, rnn, unroll

pytestmark = pytest.mark.usefixtures("fast_compiles")

B, T, F, H = 3, 6, 3, 4
LENGTHS = np.array([6, 2, 4])
B_INIT = initializers.normal(0.5)  # non-zero biases: padding would show up
CELLS = {
    "rnn": simple_rnn_cell(H, b_init=B_INIT),
    "lstm": lstm_cell(H, b_init=B_INIT),
    "gru": gru_cell(H, b_init=B_INIT),
}
KINDS = sorted(CELLS)
TOL = {"rtol": 1e-6, "atol": 1e-6}


def padded_batch(seed=0):
    """Return x (B, T, F) whose padding is large noise, not zeros."""
    x = np.random.default_rng(seed).standard_normal((B, T, F)).astype(np.float32)
    for b, n in enumerate(LENGTHS):
        x[b, n:] = 100.0
    return jnp.asarray(x), jnp.asarray(LENGTHS)


def init(layer, x, key=0):
    return layer.init(jr.key(key), x)


@functools.cache  # eager init compiles op by op: share it across tests
def cell_params(kind):
    return init(CELLS[kind], jnp.zeros((B, F)))


def reverse_within_lengths(a):
    """NumPy: reverse a[b, :n] for each b, keeping the padding in place."""
    a = np.array(a)
    for b, n in enumerate(LENGTHS):
        a[b, :n] = a[b, :n][::-1]
    return a


def leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


def to_numpy(tree):
    # Index results in NumPy: slicing a jax.Array eagerly compiles per slice.
    return jax.tree_util.tree_map(np.asarray, tree)


# Masking is cell-agnostic; these cover every cell, both directions, and both
# carry kinds (an array; LSTM's (h, c) tuple).
@pytest.mark.parametrize(
    ("kind", "reverse"),
    [("gru", False), ("lstm", False), ("lstm", True), ("rnn", True)],
)
def test_padded_batch_equals_sequences_run_one_by_one(kind, reverse):
    cell, params = CELLS[kind], cell_params(kind)
    last_layer = rnn(cell, return_sequences=False, reverse=reverse)

    @jax.jit  # one compile for the batch and the three unpadded runs
    def run(p, x, lengths):
        ones = [
            unroll(cell, p, x[b : b + 1, :n], reverse=reverse)
            for b, n in enumerate(LENGTHS)
        ]
        last = last_layer.apply(p, {}, (x, lengths))[0]
        return unroll(cell, p, x, lengths, reverse=reverse), last, ones

    (carry, ys), last, ones = to_numpy(run(params, *padded_batch()))
    for b, (n, (one_carry, one_ys)) in enumerate(zip(LENGTHS, ones, strict=True)):
        np.testing.assert_allclose(ys[b, :n], one_ys[0], **TOL)
        np.testing.assert_array_equal(ys[b, n:], 0.0)  # zero outputs on padding
        for got, want in zip(leaves(carry), leaves(one_carry), strict=True):
            np.testing.assert_allclose(got[b], want[0], **TOL)
        final_step = 0 if reverse else n - 1  # the step the unpadded run ends on
        np.testing.assert_allclose(last[b], one_ys[0, final_step], **TOL)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reads_carry", [True, False])
def test_last_output_equals_the_stacked_outputs_step_bitwise(
    kind, reverse, masked, reads_carry
):
    # `return_sequences=False` stacks no T outputs: it reads the final carry
    # (`Cell.output`), or carries the last output through the scan (a cell
    # without `output`); the same values and gradients, bitwise.
    x, lengths = padded_batch()
    lengths = jnp.asarray([6, 0, 4]) if masked else None  # 0: zero output
    params = cell_params(kind)
    cell = CELLS[kind] if reads_carry else Cell(*CELLS[kind][:3])
    assert (cell.output is not None) == reads_carry

    def stacked(params, x):
        ys = np.arange(B), (lengths - 1).clip(0) if masked else None
        out = unroll(cell, params, x, lengths, reverse=reverse)[1]
        if reverse:
            return out[:, 0]
        return out[ys[0], ys[1]] if masked else out[:, -1]

    def last(params, x):
        layer = rnn(cell, return_sequences=False, reverse=reverse)
        return layer.apply(params, {}, (x, lengths) if masked else x)[0]

    def loss(fn):
        return jax.jit(jax.value_and_grad(lambda p, x: jnp.sum(fn(p, x) ** 3), (0, 1)))

    want, got = loss(stacked)(params, x), loss(last)(params, x)
    assert [a.tobytes() for a in leaves(got)] == [a.tobytes() for a in leaves(want)]


def test_zero_length_keeps_initial_carry_and_zero_outputs():
    last_layer = rnn(CELLS["lstm"], return_sequences=False)

    @jax.jit
    def run(p, x, lengths):
        last = last_layer.apply(p, {}, (x, lengths))[0]
        return unroll(CELLS["lstm"], p, x, lengths), last

    x, _ = padded_batch()
    ((h, c), ys), last = to_numpy(run(cell_params("lstm"), x, jnp.array([0, 2, 0])))
    for a in (h, c, ys, last):
        np.testing.assert_array_equal(a[[0, 2]], 0.0)
    assert np.all(h[1] != 0.0)


def test_reverse_equals_running_on_flipped_input():
    kind = "gru"
    back_layer, fwd_layer = rnn(CELLS[kind], reverse=True), rnn(CELLS[kind])

    @jax.jit
    def run(p, x):
        back = back_layer.apply(p, {}, x)[0]
        return back, fwd_layer.apply(p, {}, x[:, ::-1])[0][:, ::-1]

    back, want = run(cell_params(kind), padded_batch()[0])
    np.testing.assert_allclose(back, want, **TOL)


def test_bidirectional_equals_forward_and_reversed_run_of_reversed_input():
    fwd, bwd = rnn(CELLS["lstm"]), rnn(CELLS["gru"])
    layer = bidirectional(CELLS["lstm"], CELLS["gru"])
    last_layer = bidirectional(CELLS["lstm"], CELLS["gru"], return_sequences=False)
    x, lengths = padded_batch(2)
    x_rev = jnp.asarray(reverse_within_lengths(x))
    params, _ = init(layer, (x, lengths), 3)

    @jax.jit
    def run(p, x, x_rev, n):
        outs = layer.apply(p, {}, (x, n))[0], last_layer.apply(p, {}, (x, n))[0]
        ys_fwd = fwd.apply(p["forward"], {}, (x, n))[0][0]
        return outs, ys_fwd, bwd.apply(p["backward"], {}, (x_rev, n))[0][0]

    ((seq, passed), last), ys_fwd, ys_bwd_of_rev = to_numpy(
        run(params, x, x_rev, lengths)
    )
    ys_bwd = reverse_within_lengths(ys_bwd_of_rev)  # back to input positions
    want = np.concatenate([ys_fwd, ys_bwd], axis=-1)  # (B, T, H + H)
    np.testing.assert_allclose(seq, want, **TOL)
    np.testing.assert_array_equal(passed, LENGTHS)
    last_fwd = ys_fwd[np.arange(B), LENGTHS - 1]  # forward ends at step n - 1
    want_last = np.concatenate([last_fwd, ys_bwd[:, 0]], -1)  # backward at 0
    np.testing.assert_allclose(last, want_last, **TOL)


def test_unroll_from_a_given_carry_continues_the_sequence():
    cell = CELLS["lstm"]

    @jax.jit
    def run(p, x):
        carry, head = unroll(cell, p, x[:, :2])
        final, tail = unroll(cell, p, x[:, 2:], carry=carry)
        return unroll(cell, p, x), (final, jnp.concatenate([head, tail], axis=1))

    whole, split = run(cell_params("lstm"), padded_batch()[0])
    for got, want in zip(leaves(split), leaves(whole), strict=True):
        np.testing.assert_allclose(got, want, **TOL)


def test_bidirectional_defaults_to_a_second_copy_of_the_cell():
    layer = bidirectional(CELLS["rnn"])
    params, state = init(layer, jnp.zeros((B, T, F)))
    assert sorted(params) == ["backward", "forward"] and state == {}
    assert not np.allclose(params["forward"]["w_i"], params["backward"]["w_i"])
    y = jax.eval_shape(layer.apply, params, {}, jnp.ones((B, T, F)))[0]
    assert y.shape == (B, T, 2 * H)


def test_masked_layers_stack_in_serial_and_named():
    first, second = rnn(CELLS["lstm"]), rnn(CELLS["gru"], return_sequences=False)
    stacked, by_name = serial(first, second), named(enc=first, out=second)
    x, lengths = padded_batch()
    params, state = init(stacked, (x, lengths))
    named_params = {"enc": params[0], "out": params[1]}
    assert jax.tree_util.tree_map(jnp.shape, init(by_name, (x, lengths))[0]) == (
        jax.tree_util.tree_map(jnp.shape, named_params)
    )

    @jax.jit
    def run(p, x, n):
        hidden, passed = first.apply(p[0], {}, (x, n))[0]
        assert passed is n  # a pair in gives a pair out
        want = second.apply(p[1], {}, (hidden, passed))[0]
        named_y = by_name.apply(named_params, {"enc": {}, "out": {}}, (x, n))[0]
        return stacked.apply(p, state, (x, n))[0], named_y, want

    y, named_y, want = run(params, x, lengths)
    assert y.shape == (B, H)
    np.testing.assert_allclose(y, want, **TOL)
    np.testing.assert_allclose(named_y, want, **TOL)


def test_unroll_compiles_once_per_sequence_length():
    layer, traces = rnn(CELLS["lstm"]), []
    params = cell_params("lstm")

    @jax.jit
    def f(p, x, n):
        traces.append(1)  # Python side effect: runs only while tracing
        return layer.apply(p, {}, (x, n))[0]

    x, lengths = padded_batch()
    f(params, x, lengths)
    f(params, x + 1.0, lengths - 1)  # new values, same shapes
    assert len(traces) == 1
    f(params, jnp.ones((B, T + 3, F)), lengths)
    f(params, jnp.zeros((B, T + 3, F)), lengths)
    assert len(traces) == 2  # one more trace for the new T, and only one


def test_one_scan_whose_program_size_does_not_grow_with_length():
    layer, params = rnn(CELLS["lstm"]), cell_params("lstm")

    def jaxpr(steps):
        x = jnp.zeros((B, steps, F))
        return jax.make_jaxpr(lambda p, x: layer.apply(p, {}, x)[0])(params, x)

    short, long = jaxpr(2), jaxpr(50)
    assert [e.primitive.name for e in short.eqns].count("scan") == 1
    assert len(short.eqns) == len(long.eqns)


def test_init_from_spec_eval_shape_and_masked_gradients():
    # Contract checks (the full set runs in tests/test_layer_contract.py).
    x, lengths = padded_batch()
    layer = bidirectional(CELLS["gru"], CELLS["rnn"], return_sequences=False)
    spec = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), (x, lengths)
    )
    params, state = layer.init(jr.key(0), spec)
    from_array = layer.init(jr.key(0), (x, lengths))
    for got, want in zip(leaves(from_array), leaves(params), strict=True):
        np.testing.assert_array_equal(got, want)
    f = jax.jit(lambda p, x: layer.apply(p, state, (x, lengths)))
    y, new_state = f(params, x)
    assert new_state == {} and y.shape == (B, 2 * H)
    assert jax.eval_shape(f, params, x) == (jax.ShapeDtypeStruct(y.shape, y.dtype), {})
    grads = jax.jit(jax.grad(lambda p, x: jnp.sum(f(p, x)[0]), argnums=(0, 1)))(
        params, x
    )
    assert all(np.all(np.isfinite(g)) for g in leaves(grads))
    assert np.all(np.asarray(grads[1])[1, 2:] == 0.0)  # padding gets no gradient
    assert np.all(np.asarray(grads[1])[1, :2] != 0.0)


def test_bad_constructor_arguments_raise():
    with pytest.raises(TypeError, match=r"rnn: expected a Cell, got function"):
        rnn(lstm_cell)  # uncalled constructor
    with pytest.raises(TypeError, match=r"`return_sequences` to be a bool, got 1"):
        rnn(CELLS["rnn"], return_sequences=1)
    with pytest.raises(TypeError, match=r"`reverse` to be a bool, got None"):
        rnn(CELLS["rnn"], reverse=None)
    with pytest.raises(TypeError, match=r"bidirectional: expected a Cell, got str"):
        bidirectional(CELLS["rnn"], "gru")
    with pytest.raises(TypeError, match=r"bidirectional: expected `return_seq"):
        bidirectional(CELLS["rnn"], return_sequences="yes")


@pytest.mark.parametrize("make", [rnn, bidirectional])
def test_bad_inputs_raise(make):
    layer, where = make(CELLS["rnn"]), make.__name__
    params, _ = init(layer, jnp.zeros((B, T, F)))
    x, lengths = padded_batch()
    xn = np.asarray(x)  # slice in NumPy: eager jax slicing compiles per slice
    cases = [
        (ValueError, rf"{where}: expected input of rank 3 \(B, T, F\)", xn[:, 0]),
        (TypeError, r"expected `x` with a floating dtype", xn.astype(np.int32)),
        (TypeError, r"expected an array or a pair \(x, lengths\), got 3", (x,) * 3),
        (TypeError, r"expected `lengths` as an array, got list", (x, [6, 2, 4])),
        (TypeError, r"expected `x` as an array, got list", [[0.0], lengths]),
        (
            TypeError,
            r"`lengths` with an integer dtype, got dtype float32",
            (x, xn[:, 0, 0]),
        ),
        (ValueError, r"`lengths` of shape \(3,\) \(one per", (x, LENGTHS[:2])),
        (
            ValueError,
            r"`lengths` in \[0, T\] with T = 6, got \[-1, 7\]",
            (x, np.array([7, -1, 7])),
        ),
    ]
    for error, match, bad in cases:
        with pytest.raises(error, match=match):
            layer.apply(params, {}, bad)
        with pytest.raises(error, match=match):
            layer.init(jr.key(0), bad)  # concrete lengths: init checks values too


def test_cell_errors_name_the_layer_path():
    layer = bidirectional(CELLS["lstm"])
    params, _ = init(layer, jnp.zeros((B, T, F)))
    with pytest.raises(
        ValueError, match=r"lstm_cell at 'forward': expected `x_t` of shape"
    ):
        layer.apply(params, {}, jnp.zeros((B, T, F + 1)))
    with pytest.raises(ValueError, match=r"^unroll: expected input of rank 3"):
        unroll(CELLS["lstm"], params["forward"], jnp.zeros((B, F)))
