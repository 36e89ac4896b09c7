"""The benchmark suite's workloads: each model twice, in jnn and hand-written JAX.

Issue 12's four workloads and a transformer block (Adam, softmax
cross-entropy, 10 classes, random synthetic data). The hand-written side is
what a person would write without a library: its own params dict and init,
`lax.conv_general_dilated` and a `lax.reduce_window` max pool for the CNN,
a `lax.scan` LSTM, einsum attention. The jnn side is
the same architecture from `jnn.layers`. Both compute the same function up to
their different random initialisations.
"""

import itertools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax import lax

from jnn import layers as nn
from jnn._types import Layer

CLASSES = 10
LEARNING_RATE = 1e-3


class Workload(NamedTuple):
    name: str
    title: str  # the name for it
    batch: int
    x_shape: tuple  # one example's shape
    model: Callable[[], Layer]  # the jnn model
    init: Callable  # hand-written: init(key) -> params dict
    forward: Callable  # hand-written: forward(params, x) -> logits (B, CLASSES)
    steps: int  # steps per timed round (per dispatch for the fused path)
    count_forward: Callable | None = None  # forward for FLOP counting: XLA's
    # cost analysis counts a loop body once, so loops are unrolled there
    slow_on_cpu: tuple = ()  # variants skipped on CPU unless --all
    # A workload that is not a classifier brings its own variants:
    build: Callable | None = None  # build(steps, names) -> {name: run}
    flops: Callable | None = None  # flops() -> one hand-written step's FLOPs
    variants: tuple = ()  # the names `build` knows


def _normal(key, shape, fan_in):
    return jr.normal(key, shape, jnp.float32) / np.sqrt(fan_in).astype(np.float32)


def _dense_params(key, sizes):
    """{"w0", "b0", "w1", ...} for a chain of dense layers of `sizes`."""
    params = {}
    keys = jr.split(key, len(sizes) - 1)
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        params[f"w{i}"] = _normal(keys[i], (n_in, n_out), n_in)
        params[f"b{i}"] = jnp.zeros((n_out,), jnp.float32)
    return params


def _mlp_forward(params, x):
    layers = len(params) // 2
    x = x.reshape(x.shape[0], -1)  # (B, ...) -> (B, F)
    for i in range(layers):
        x = x @ params[f"w{i}"] + params[f"b{i}"]
        if i < layers - 1:
            x = jax.nn.relu(x)
    return x


def _mlp_model(hidden):
    def build():
        parts = [nn.flatten()]
        for features in hidden:
            parts += [nn.dense(features), nn.relu()]
        return nn.serial(*parts, nn.dense(CLASSES))

    return build


def _cnn_init(key):
    k1, k2, k3 = jr.split(key, 3)
    return {
        "c1": _normal(k1, (3, 3, 1, 32), 9),
        "cb1": jnp.zeros((32,), jnp.float32),
        "c2": _normal(k2, (3, 3, 32, 64), 9 * 32),
        "cb2": jnp.zeros((64,), jnp.float32),
        "w": _normal(k3, (14 * 14 * 64, CLASSES), 14 * 14 * 64),
        "b": jnp.zeros((CLASSES,), jnp.float32),
    }


def _conv(x, w, b):
    dims = ("NHWC", "HWIO", "NHWC")
    y = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dims)
    return jax.nn.relu(y + b)


def _cnn_forward(params, x):
    x = _conv(x, params["c1"], params["cb1"])
    x = _conv(x, params["c2"], params["cb2"])  # (B, 28, 28, 64)
    init = np.array(-np.inf, x.dtype)
    x = lax.reduce_window(x, init, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return x.reshape(x.shape[0], -1) @ params["w"] + params["b"]  # (B, 14*14*64)


def _cnn_model():
    return nn.serial(
        nn.conv(32, (3, 3)),
        nn.relu(),
        nn.conv(64, (3, 3)),
        nn.relu(),
        nn.max_pool((2, 2)),
        nn.flatten(),
        nn.dense(CLASSES),
    )


HIDDEN = 128


def _lstm_init(key):
    k1, k2, k3 = jr.split(key, 3)
    return {
        "w_i": _normal(k1, (28, 4 * HIDDEN), 28),
        "w_h": _normal(k2, (HIDDEN, 4 * HIDDEN), HIDDEN),
        "bias": jnp.zeros((4 * HIDDEN,), jnp.float32),
        "w": _normal(k3, (HIDDEN, CLASSES), HIDDEN),
        "b": jnp.zeros((CLASSES,), jnp.float32),
    }


def _lstm_forward(params, x, unroll=1):
    def cell(carry, x_t):
        h, c = carry
        z = x_t @ params["w_i"] + h @ params["w_h"] + params["bias"]
        i, f, g, o = jnp.split(z, 4, axis=-1)  # (B, 4H) -> 4 x (B, H)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[0], HIDDEN), x.dtype)
    xs = jnp.swapaxes(x, 0, 1)  # (B, T, F) -> (T, B, F) for scan
    (h, _), _ = lax.scan(cell, (zeros, zeros), xs, unroll=unroll)
    return h @ params["w"] + params["b"]


def _lstm_model():
    return nn.serial(
        nn.rnn(nn.lstm_cell(HIDDEN), return_sequences=False), nn.dense(CLASSES)
    )


SEQ, WIDTH, HEADS, MLP = 64, 128, 4, 512  # the transformer block's sizes


def _block_init(key):
    keys = jr.split(key, 7)
    dense = {
        "q": (WIDTH, WIDTH),
        "k": (WIDTH, WIDTH),
        "v": (WIDTH, WIDTH),
        "o": (WIDTH, WIDTH),
        "m1": (WIDTH, MLP),
        "m2": (MLP, WIDTH),
        "w": (SEQ * WIDTH, CLASSES),
    }
    params = {}
    for k, (name, shape) in zip(keys, dense.items(), strict=True):
        params[f"w{name}"] = _normal(k, shape, shape[0])
        params[f"b{name}"] = jnp.zeros(shape[1:], jnp.float32)
    for norm in ("ln1", "ln2"):
        params[f"{norm}_scale"] = jnp.ones((WIDTH,), jnp.float32)
        params[f"{norm}_bias"] = jnp.zeros((WIDTH,), jnp.float32)
    return params


def _layer_norm(params, name, x):
    mean = x.mean(-1, keepdims=True)
    var = jnp.square(x - mean).mean(-1, keepdims=True)
    normed = (x - mean) * lax.rsqrt(var + 1e-5)
    return normed * params[f"{name}_scale"] + params[f"{name}_bias"]


def _block_forward(params, x):
    """Pre-LayerNorm self-attention and GELU MLP, each residual (as
    `jnn.layers.transformer_block`), then flatten and a dense classifier."""
    batch, head = x.shape[0], WIDTH // HEADS

    def project(name, h):
        return h @ params[f"w{name}"] + params[f"b{name}"]

    h = _layer_norm(params, "ln1", x)
    q, k, v = (project(n, h).reshape(batch, SEQ, HEADS, head) for n in "qkv")
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(head).astype(np.float32)
    mixed = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
    x = x + project("o", mixed.reshape(batch, SEQ, WIDTH))
    h = jax.nn.gelu(project("m1", _layer_norm(params, "ln2", x)))
    x = x + project("m2", h)
    return project("w", x.reshape(batch, -1))


def _block_model():
    return nn.serial(
        nn.transformer_block(HEADS, mlp_features=MLP), nn.flatten(), nn.dense(CLASSES)
    )


WORKLOADS = {
    w.name: w
    for w in (
        Workload(
            "mlp",
            "MLP 784-512-512-10, batch 128",
            128,
            (784,),
            _mlp_model((512, 512)),
            lambda key: _dense_params(key, (784, 512, 512, CLASSES)),
            _mlp_forward,
            50,
        ),
        Workload(
            "cnn",
            "CNN 2x conv3x3 (32, 64) + max-pool on 28x28, batch 128",
            128,
            (28, 28, 1),
            _cnn_model,
            _cnn_init,
            _cnn_forward,
            4,
            # A convolution inside an XLA:CPU loop (lax.scan) ran ~40x slower
            # than outside one (16.7 s vs 0.38 s per step, loaded 2-core CPU).
            slow_on_cpu=("jax_fused", "fused", "loop_fused"),
        ),
        Workload(
            "lstm",
            "LSTM 28 steps x 28 features, hidden 128, batch 128",
            128,
            (28, 28),
            _lstm_model,
            _lstm_init,
            _lstm_forward,
            20,
            lambda params, x: _lstm_forward(params, x, unroll=True),
        ),
        Workload(
            "tiny",
            "tiny MLP 64-32-10, batch 32",
            32,
            (64,),
            _mlp_model((32,)),
            lambda key: _dense_params(key, (64, 32, CLASSES)),
            _mlp_forward,
            200,
        ),
        Workload(
            "transformer",
            "transformer block (4 heads, width 128, MLP 512) over 64 steps, batch 32",
            32,
            (SEQ, WIDTH),
            _block_model,
            _block_init,
            _block_forward,
            10,
        ),
    )
}


def optimizer() -> optax.GradientTransformation:
    return optax.adam(LEARNING_RATE)


def synthetic(w: Workload, count: int, seed: int = 0):
    """`count` host batches' worth of random inputs and labels, stacked:
    x (count, B, *x_shape) float32, y (count, B) int32."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, w.batch, *w.x_shape)).astype(np.float32)
    y = rng.integers(0, CLASSES, (count, w.batch)).astype(np.int32)
    return x, y


def hand_step(w: Workload, forward: Callable | None = None):
    """The hand-written step `(params, opt_state, x, y) -> (params, opt_state,
    loss)`; the caller jits it with params and opt state donated."""
    opt = optimizer()
    forward = forward or w.forward

    def loss_fn(params, x, y):
        logits = forward(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step
