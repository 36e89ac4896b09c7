"""Benchmark (not a test): jnn's convolution layers against hand-written steps.

Issue 12's CNN (conv 3x3 (32) -> relu -> conv 3x3 (64) -> relu -> 2x2 max
pool -> flatten -> dense (10) on 28x28x1, batch 128, Adam, softmax
cross-entropy) as three train steps in one process:

- `hand`: the hand-written step other JAX libraries' layers amount to,
  `lax.conv_general_dilated` and a `lax.reduce_window` max pool;
- `jnn`: the same model from `jnn.layers` (batch-chunked convolutions on
  CPU, the tiled max pool);
- `jnn_unchunked`: jnn's model traced with the CPU formulations off (one
  `lax` convolution per layer).

`--gan` adds the DCGAN of configs/gan_mnist.toml (batch 64): a step of both
players' gradients and Adam, with jnn's CPU formulations (`gan_jnn`),
without them (`gan_lax`, plain `lax.conv_general_dilated` and
`lax.conv_transpose`) and without the batch chunks only (`gan_1chunk`).

Calls alternate between the steps, so load changes on a shared machine hit
all alike; the report gives medians in ms per step, each step's ratio to the
first, and the largest gradient difference relative to the first's largest
gradient (same initial weights).

Usage:
  python benchmarks/conv.py                  # 15 interleaved repeats
  python benchmarks/conv.py --repeats 31 --gan
"""

import argparse
import statistics
import time
from unittest import mock

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax import lax

from jnn.gan import models
from jnn.layers import _conv_chunks
from jnn.layers.combinators import serial
from jnn.layers.convolution import conv
from jnn.layers.core import dense, flatten, relu
from jnn.layers.pooling import max_pool
from jnn.losses import sigmoid_binary_cross_entropy, softmax_cross_entropy

DIMS = ("NHWC", "HWIO", "NHWC")


def hand_forward(params, x):
    for name in ("conv_0", "conv_2"):
        w, b = params[name]["weight"], params[name]["bias"]
        x = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DIMS)
        x = jax.nn.relu(x + b)
    init = np.array(-np.inf, x.dtype)
    x = lax.reduce_window(x, init, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    head = params["dense"]
    return x.reshape(x.shape[0], -1) @ head["weight"] + head["bias"]


def cnn():
    return serial(
        conv(32, (3, 3)),
        relu(),
        conv(64, (3, 3)),
        relu(),
        max_pool((2, 2)),
        flatten(),
        dense(10),
    )


def _named(params):
    """serial's tuple of params -> the names `hand_forward` reads."""
    return {"conv_0": params[0], "conv_2": params[2], "dense": params[6]}


def _traced_with(fn, **patches):
    """Return `fn`, traced (on its first call) with `_conv_chunks` patched."""
    if not patches:
        return fn

    def call(*args):
        with mock.patch.multiple(_conv_chunks, **patches):
            return fn(*args)

    return call


LAX = {"use_chunks": lambda: False}  # the CPU formulations off: plain lax
ONE_CHUNK = {"chunk_count": lambda *_: 1}  # `_conv_phases`, no chunks


def cnn_steps(batch):
    """{name: (step, grad, params, opt_state, batch args)} for the CNN."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((batch, 28, 28, 1)), jnp.float32)
    targets = jnp.asarray(np.eye(10)[rng.integers(0, 10, batch)], jnp.float32)
    model, optimizer = cnn(), optax.adam(1e-3)
    params, state = model.init(jr.key(0), x)
    forwards = {
        "hand": lambda p, x: hand_forward(_named(p), x),
        "jnn": lambda p, x: model.apply(p, state, x)[0],
    }
    forwards["jnn_unchunked"] = forwards["jnn"]
    runs = {}
    for name, forward in forwards.items():

        def loss(p, x, t, forward=forward):
            return jnp.mean(softmax_cross_entropy(forward(p, x), t))

        def step(p, o, x, t, loss=loss):
            value, grads = jax.value_and_grad(loss)(p, x, t)
            updates, o = optimizer.update(grads, o, p)
            return optax.apply_updates(p, updates), o, value

        step, grad = jax.jit(step, donate_argnums=(0, 1)), jax.jit(jax.grad(loss))
        if name.endswith("unchunked"):
            step, grad = _traced_with(step, **LAX), _traced_with(grad, **LAX)
        copy = jax.tree.map(jnp.copy, params)
        runs[name] = [step, grad, copy, optimizer.init(copy), (x, targets)]
    return runs


def gan_steps(batch):
    """{name: ...} for the DCGAN's generator and discriminator gradients."""
    generator = models.dcgan_generator((28, 28, 1), (128, 64))
    discriminator = models.dcgan_discriminator((64, 128))
    z = jr.normal(jr.key(1), (batch, 100))
    real = jr.uniform(jr.key(2), (batch, 28, 28, 1), minval=-1.0)
    g_params, g_state = generator.init(jr.key(3), z)
    d_params, d_state = discriminator.init(jr.key(4), real)

    def losses(params, z, real):
        g, d = params
        fake = generator.apply(g, g_state, z)[0]
        logits = discriminator.apply(d, d_state, jnp.concatenate([real, fake]))[0]
        labels = jnp.concatenate([jnp.ones((batch, 1)), jnp.zeros((batch, 1))])
        d_loss = jnp.mean(sigmoid_binary_cross_entropy(logits, labels))
        g_loss = jnp.mean(
            sigmoid_binary_cross_entropy(logits[batch:], 1 - labels[batch:])
        )
        return d_loss + g_loss

    def make_step():  # a new function per run: jit caches traces by function
        def step(params, opt_state, z, real):
            grads = jax.grad(losses)(params, z, real)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return step

    optimizer = optax.adam(2e-4, b1=0.5)
    params = (g_params, d_params)
    runs = {}
    for name, patches in (("gan_jnn", {}), ("gan_lax", LAX), ("gan_1chunk", ONE_CHUNK)):
        step = jax.jit(make_step(), donate_argnums=(0, 1))
        grad = jax.jit(jax.grad(lambda *a: losses(*a)))
        step, grad = _traced_with(step, **patches), _traced_with(grad, **patches)
        copy = jax.tree.map(jnp.copy, params)
        runs[name] = [step, grad, copy, optimizer.init(copy), (z, real)]
    return runs


def compare(runs, repeats):
    """Print medians, ratios to the first run and gradient differences."""
    names = list(runs)
    grads = {n: r[1](r[2], *r[4]) for n, r in runs.items()}
    times = {n: [] for n in names}
    for i in range(repeats + 1):  # the first call compiles; it is dropped
        for name in names:
            step, _, params, opt_state, args = runs[name]
            start = time.perf_counter()
            out = step(params, opt_state, *args)
            jax.block_until_ready(out)
            if i:
                times[name].append(time.perf_counter() - start)
            runs[name][2], runs[name][3] = out[0], out[1]
    first = names[0]
    scale = max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grads[first]))
    base = statistics.median(times[first])
    for name in names:
        median = statistics.median(times[name])
        diffs = jax.tree.map(
            lambda a, b: float(jnp.max(jnp.abs(a - b))), grads[name], grads[first]
        )
        err = max(jax.tree.leaves(diffs)) / scale
        print(
            f"{name:15s} {median * 1e3:8.2f} ms/step  ratio {median / base:5.2f}"
            f"  max grad diff / max grad {err:.1e}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--gan", action="store_true", help="also time the DCGAN")
    args = parser.parse_args(argv)
    print(
        f"device: {jax.devices()[0].platform}, "
        f"median of {args.repeats} interleaved steps"
    )
    print(f"CNN, batch {args.batch}:")
    compare(cnn_steps(args.batch), args.repeats)
    if args.gan:
        print("DCGAN (configs/gan_mnist.toml), batch 64, G and D gradients + Adam:")
        compare(gan_steps(64), args.repeats)


if __name__ == "__main__":
    main()
