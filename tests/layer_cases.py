"""Descriptor registry of layer cases for the conformance tests (Haiku style).

Each `Case` says how to build one layer and what to feed it; the contract tests
in `test_layer_contract.py` run every check over every case, and
`scripts/regen_snapshots.py` writes the golden param-structure snapshots from
the same registry. This module is loaded by file path (tests/ is no package).

Adding a layer: add a `Case` below (or list its name in `IGNORED`, with why),
then run `python scripts/regen_snapshots.py <case>` and commit the JSON.
"""

import pathlib
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jnn import Layer, layers

SNAPSHOT_DIR = pathlib.Path(__file__).parent / "snapshots" / "params"

# Names in `jnn.layers.__all__` that are not layer constructors, with why.
IGNORED = {
    "output_spec",  # helper: output spec of a layer via jax.eval_shape
    "Cell",  # the cell type; cells are covered through the rnn cases
    "unroll",  # functional helper under rnn, not a Layer
    "apply_rope",  # function on (B, T, H, D); multi_head_attention(rope=True) uses it
    "dot_product_attention",  # function on (B, T, H, D); multi_head_attention uses it
}


class Case(NamedTuple):
    """How to build and drive one layer in the contract tests.

    name: unique id; also the snapshot file name.
    make: zero-argument constructor call, e.g. `lambda: layers.dense(4)`.
    x_shape: input shape, batch axis first (ignored when `make_x` is given).
    x_dtype: input dtype.
    train: the static `train` flag passed to apply.
    needs_key: apply must get a `key` (stochastic in this mode).
    differentiable: gradients are meaningful (run `check_grads`).
    stochastic: output depends on `key`.
    covers: the `jnn.layers.__all__` names this case exercises.
    make_x: optional `rng -> x pytree` for inputs that are not one array.
    """

    name: str
    make: Callable[[], Layer]
    x_shape: tuple[int, ...] = (2, 3)
    x_dtype: Any = jnp.float32
    train: bool = False
    needs_key: bool = False
    differentiable: bool = True
    stochastic: bool = False
    covers: tuple[str, ...] = ()
    make_x: Callable[[np.random.Generator], Any] | None = None


def make_input(case: Case, seed: int = 0):
    """Return the case's input: `make_x(rng)` or normal samples of `x_shape`.

    NumPy draws the inputs: eager `jax.random` would compile once per shape.
    """
    rng = np.random.default_rng(seed)
    if case.make_x is not None:
        return case.make_x(rng)
    return jnp.asarray(rng.standard_normal(case.x_shape), case.x_dtype)


def _pair(rng):
    # Two inputs differing only in the concatenation axis: (2, 3) and (2, 4).
    return (
        jnp.asarray(rng.standard_normal((2, 3)), jnp.float32),
        jnp.asarray(rng.standard_normal((2, 4)), jnp.float32),
    )


def _activation_cases() -> tuple[Case, ...]:
    simple = ("sigmoid", "tanh", "relu", "softplus", "identity")
    cases = [Case(n, lambda n=n: getattr(layers, n)()) for n in simple]
    cases += [
        Case("leaky_relu", lambda: layers.leaky_relu(0.2)),
        Case("elu", lambda: layers.elu(0.5)),
        Case("gelu", lambda: layers.gelu(approximate=False)),
        Case("softmax", lambda: layers.softmax()),
        Case("log_softmax", lambda: layers.log_softmax(axis=0)),
        Case("step", lambda: layers.step(0.5), differentiable=False),
        Case(
            "activation_name", lambda: layers.activation("silu"), covers=("activation",)
        ),
        Case(
            "activation_callable",
            lambda: layers.activation(jnp.sin),
            covers=("activation",),
        ),
    ]
    return tuple(cases)


# Shapes are shared on purpose: x (2, 3) into dense(4) then dense(2) wherever
# possible, so eager op compiles are reused and the suite stays fast. Weights
# are never square unless a residual forces it (square hides transpose bugs).


def _combinator_cases() -> tuple[Case, ...]:
    d = layers.dense
    return (
        Case("serial", lambda: layers.serial(d(4), layers.relu(), d(2))),
        Case("named", lambda: layers.named(hidden=d(4), act=layers.relu(), out=d(2))),
        Case(
            "named_in_serial",
            lambda: layers.serial(layers.flatten(), layers.named(hidden=d(4))),
            x_shape=(2, 3, 1),
            covers=("serial", "named", "flatten"),
        ),
        Case("parallel", lambda: layers.parallel(d(4), layers.identity())),
        Case(
            "parallel_concatenate",
            lambda: layers.serial(
                layers.parallel(d(4), layers.identity()), layers.concatenate()
            ),
            covers=("serial", "parallel", "concatenate"),
        ),
        Case("concatenate", lambda: layers.concatenate(), make_x=_pair),
        Case("residual", lambda: layers.residual(layers.serial(d(3), layers.tanh()))),
        Case(
            "residual_projection",
            lambda: layers.residual(d(4), shortcut=d(4)),
            covers=("residual",),
        ),
    )


def _dropout_cases() -> tuple[Case, ...]:
    # (4, 4) outputs: 16 coin flips, so two keys give equal masks with p=2^-16.
    train = {"train": True, "needs_key": True, "stochastic": True}
    d, drop = layers.dense, layers.dropout
    return (
        Case("dropout_eval", lambda: drop(0.5), x_shape=(4, 4), covers=("dropout",)),
        Case("dropout", lambda: drop(0.5), x_shape=(4, 4), **train),
        Case(
            "serial_dropout_train",
            lambda: layers.serial(d(4), drop(0.5)),
            x_shape=(4, 3),
            covers=("serial", "dropout"),
            **train,
        ),
        # (4, 2, 2, 4): 16 (example, channel) coin flips, as above.
        Case(
            "spatial_dropout",
            lambda: layers.spatial_dropout(0.5),
            x_shape=(4, 2, 2, 4),
            **train,
        ),
    )


def _spatial_cases() -> tuple[Case, ...]:
    # Channels-last (B, *S, C) inputs; the spatial rank comes from kernel_size.
    img, seq = (2, 5, 5, 3), (2, 7, 3)
    return (
        Case("conv", lambda: layers.conv(4, (3, 3)), x_shape=img),
        Case(
            "conv_1d_valid_strided",
            lambda: layers.conv(4, (3,), stride=2, padding="VALID"),
            x_shape=seq,
            covers=("conv",),
        ),
        Case(
            "conv_transpose",
            lambda: layers.conv_transpose(4, (3, 3), stride=2),
            x_shape=(2, 3, 3, 3),
        ),
        Case("max_pool", lambda: layers.max_pool((2, 2)), x_shape=img),
        Case("avg_pool", lambda: layers.avg_pool((2, 2), padding="SAME"), x_shape=img),
        Case("global_avg_pool", lambda: layers.global_avg_pool(), x_shape=img),
        Case("global_max_pool", lambda: layers.global_max_pool(), x_shape=img),
    )


def _norm_cases() -> tuple[Case, ...]:
    return (
        Case("batch_norm", lambda: layers.batch_norm(), x_shape=(4, 3), train=True),
        Case(
            "batch_norm_eval",
            lambda: layers.batch_norm(momentum=0.9),
            x_shape=(2, 3, 3, 2),
            covers=("batch_norm",),
        ),
        Case("layer_norm", lambda: layers.layer_norm(), x_shape=(2, 3)),
        Case("group_norm", lambda: layers.group_norm(2), x_shape=(2, 3, 3, 4)),
    )


def _padded_sequences(rng):
    # (B, T, F) = (2, 5, 3) with lengths (5, 2): the second sequence is padded.
    x = jnp.asarray(rng.standard_normal((2, 5, 3)), jnp.float32)
    return x, jnp.array([5, 2], jnp.int32)


def _token_ids(rng):
    return jnp.asarray(rng.integers(0, 10, (2, 5)), jnp.int32)


def _recurrent_cases() -> tuple[Case, ...]:
    # F = 3 != H = 4 so a transposed kernel cannot pass. Int inputs (lengths,
    # token ids) have no gradient: those cases are not differentiable.
    seq = {"x_shape": (2, 5, 3)}
    masked = {"make_x": _padded_sequences, "differentiable": False}
    return (
        Case(
            "rnn", lambda: layers.rnn(layers.lstm_cell(4)), covers=("lstm_cell",), **seq
        ),
        Case(
            "rnn_simple_last",
            lambda: layers.rnn(layers.simple_rnn_cell(4), return_sequences=False),
            covers=("rnn", "simple_rnn_cell"),
            **seq,
        ),
        Case(
            "rnn_gru_reverse",
            lambda: layers.rnn(layers.gru_cell(4), reverse=True),
            covers=("rnn", "gru_cell"),
            **seq,
        ),
        Case(
            "rnn_masked_reverse",
            lambda: layers.rnn(layers.lstm_cell(4), reverse=True),
            covers=("rnn", "lstm_cell"),
            **masked,
        ),
        Case(
            "bidirectional",
            lambda: layers.bidirectional(layers.gru_cell(4)),
            covers=("gru_cell",),
            **seq,
        ),
        Case(
            "bidirectional_masked_last",
            lambda: layers.bidirectional(
                layers.lstm_cell(4), layers.gru_cell(2), return_sequences=False
            ),
            covers=("bidirectional", "lstm_cell", "gru_cell"),
            **masked,
        ),
        Case(
            "serial_rnn_masked",
            lambda: layers.serial(
                layers.rnn(layers.lstm_cell(4)),
                layers.rnn(layers.gru_cell(2), return_sequences=False),
            ),
            covers=("serial", "rnn", "lstm_cell", "gru_cell"),
            **masked,
        ),
        Case(
            "embedding",
            lambda: layers.embedding(10, 4),
            make_x=_token_ids,
            differentiable=False,
        ),
        Case(
            "embedding_rnn",
            lambda: layers.serial(
                layers.embedding(10, 3), layers.rnn(layers.gru_cell(4))
            ),
            make_x=_token_ids,
            differentiable=False,
            covers=("serial", "embedding", "rnn", "gru_cell"),
        ),
    )


def _cross_inputs(rng):
    # x_q (2, 4, 3) attends x_kv (2, 5, 6): Tq != Tk and F_q != F_kv on purpose.
    return (
        jnp.asarray(rng.standard_normal((2, 4, 3)), jnp.float32),
        jnp.asarray(rng.standard_normal((2, 5, 6)), jnp.float32),
    )


def _cross_padded_inputs(rng):
    return (*_cross_inputs(rng), jnp.array([5, 2], jnp.int32))


def _attention_cases() -> tuple[Case, ...]:
    # F = 4 with 2 heads of 2; (B, T, F) = (2, 5, 4) keeps compiles shared.
    mha, seq = layers.multi_head_attention, {"x_shape": (2, 5, 4)}
    this = {"covers": ("multi_head_attention",)}
    train = {"train": True, "needs_key": True, "stochastic": True}
    masked = {"make_x": _padded_sequences, "differentiable": False}
    return (
        Case("multi_head_attention", lambda: mha(2), **seq),
        Case("multi_head_attention_causal", lambda: mha(2, causal=True), **seq, **this),
        Case(
            "multi_head_attention_rope",
            lambda: mha(2, causal=True, rope=True),
            **seq,
            **this,
        ),
        Case(
            "multi_head_attention_cross",
            lambda: mha(2, 3, out_features=5),
            make_x=_cross_inputs,
            **this,
        ),
        Case(
            "multi_head_attention_cross_padded",
            lambda: mha(2, 3),
            make_x=_cross_padded_inputs,
            differentiable=False,
            **this,
        ),
        Case("multi_head_attention_padded", lambda: mha(3), **masked, **this),
        Case(
            "multi_head_attention_dropout",
            lambda: mha(2, causal=True, drop_rate=0.5),
            **seq,
            **train,
            **this,
        ),
        Case("sinusoidal_positions", lambda: layers.sinusoidal_positions(), **seq),
        Case("learned_positions", lambda: layers.learned_positions(8), **seq),
    )


def _transformer_cases() -> tuple[Case, ...]:
    # The attention cases' (2, 5, 4) sequences; padding by lengths is checked
    # against NumPy in tests/layers/test_transformer.py.
    block, this = layers.transformer_block, {"covers": ("transformer_block",)}
    train = {"train": True, "needs_key": True, "stochastic": True}
    return (
        Case(
            "transformer_block",
            lambda: block(2, causal=True, rope=True, mlp_features=6),
            x_shape=(2, 5, 4),
        ),
        Case(
            "transformer_block_dropout",
            lambda: block(2, drop_rate=0.5, mlp_features=6),
            x_shape=(2, 5, 4),
            **train,
            **this,
        ),
    )


LAYER_CASES: tuple[Case, ...] = (
    Case("dense", lambda: layers.dense(4)),
    Case("dense_no_bias", lambda: layers.dense(4, use_bias=False), covers=("dense",)),
    Case("flatten", lambda: layers.flatten(), x_shape=(2, 3, 2)),
    *_activation_cases(),
    *_dropout_cases(),
    *_combinator_cases(),
    *_spatial_cases(),
    *_norm_cases(),
    *_recurrent_cases(),
    *_attention_cases(),
    *_transformer_cases(),
)

CASES_BY_NAME: dict[str, Case] = {case.name: case for case in LAYER_CASES}


def covered_names() -> set[str]:
    """Return every `jnn.layers` name some case exercises."""
    return {n for c in LAYER_CASES for n in (c.name, *c.covers)}


def _dtype_tag(dtype) -> str:
    # float32 -> f32, bfloat16 -> bf16, int8 -> i8, uint8 -> u8, bool -> bool.
    name = jnp.dtype(dtype).name
    letters, digits = re.fullmatch(r"([a-z]+?)(\d*)", name).groups()
    short = {"float": "f", "bfloat": "bf", "int": "i", "uint": "u", "complex": "c"}
    return short.get(letters, letters) + digits


def _is_empty(node) -> bool:
    return isinstance(node, dict | tuple | list) and len(node) == 0


def leaf_signature(leaf) -> str:
    """Return e.g. `f32[3,4]` for a float32 leaf of shape (3, 4); `{}` if empty."""
    if _is_empty(leaf):
        return repr(leaf)  # keep parameter-free slots, e.g. an activation's {}
    return f"{_dtype_tag(leaf.dtype)}[{','.join(str(d) for d in leaf.shape)}]"


def tree_signature(tree) -> dict[str, str]:
    """Map each leaf's `jax.tree_util.keystr` path to its `leaf_signature`."""
    flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_empty)[0]
    return {jax.tree_util.keystr(path): leaf_signature(leaf) for path, leaf in flat}


def snapshot(case: Case) -> dict[str, Any]:
    """Return the golden structure of the case: param and state signatures.

    Uses `jax.eval_shape`, so nothing is computed; only shapes and dtypes.
    """
    x_spec = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), make_input(case)
    )
    params, state = jax.eval_shape(lambda k: case.make().init(k, x_spec), jr.key(0))
    return {"params": tree_signature(params), "state": tree_signature(state)}


def snapshot_path(case: Case) -> pathlib.Path:
    """Return `tests/snapshots/params/<case.name>.json`."""
    return SNAPSHOT_DIR / f"{case.name}.json"
