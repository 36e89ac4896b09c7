"""Benchmark (not a test): a small CNN train step with jnn's `max_pool`.

Issue 12's model: conv 3x3 (32) -> relu -> conv 3x3 (64) -> relu -> 2x2 max
pool -> flatten -> dense (10) on 28x28x1 inputs, batch 128, Adam, softmax
cross-entropy. The same step is built twice in one process, once with
`jnn.layers.max_pool` (whose 2x2 windows tile the input, so it takes the
reshape fast path) and once with a hand-written `lax.reduce_window` pool, the
former implementation. Calls alternate between the two, so load changes on a
shared machine hit both alike; the report gives medians in ms per step, the
jnn/baseline ratio and whether the two steps' gradients agree bitwise.

Usage:
  python benchmarks/pooling.py                 # 31 interleaved repeats
  python benchmarks/pooling.py --repeats 51 --batch 64
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax import lax

from jnn._types import Layer
from jnn.layers.combinators import serial
from jnn.layers.convolution import conv
from jnn.layers.core import dense, flatten, relu
from jnn.layers.pooling import max_pool
from jnn.losses import softmax_cross_entropy


def reduce_window_pool() -> Layer:
    """The baseline: 2x2 max pool as one `lax.reduce_window` call."""

    def init(key, x_spec):
        del key, x_spec
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        init_value = np.array(-np.inf, x.dtype)
        y = lax.reduce_window(
            x, init_value, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
        )
        return y, state

    return Layer(init, apply, "reduce_window_pool")


def cnn(pool: Layer) -> Layer:
    return serial(
        conv(32, (3, 3)), relu(), conv(64, (3, 3)), relu(), pool, flatten(), dense(10)
    )


def make_step(model: Layer, state, optimizer):
    """Return a jitted Adam step (params, opt_state, x, y) with donated state."""

    def loss(params, x, targets):
        logits, _ = model.apply(params, state, x)  # state: empty, all stateless
        return jnp.mean(softmax_cross_entropy(logits, targets))

    def step(params, opt_state, x, targets):
        value, grads = jax.value_and_grad(loss)(params, x, targets)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return jax.jit(step, donate_argnums=(0, 1)), jax.jit(jax.grad(loss))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((args.batch, 28, 28, 1)), jnp.float32)
    labels = rng.integers(0, 10, args.batch)
    targets = jnp.asarray(np.eye(10)[labels], jnp.float32)
    optimizer = optax.adam(1e-3)
    runs = {}
    for name, pool in [("jnn", max_pool((2, 2))), ("base", reduce_window_pool())]:
        model = cnn(pool)
        params, state = model.init(jr.key(0), x)  # same key: same weights
        step, grad = make_step(model, state, optimizer)
        runs[name] = [step, params, optimizer.init(params), grad(params, x, targets)]

    same = jax.tree.map(
        lambda a, b: np.array_equal(np.asarray(a), np.asarray(b)),
        runs["jnn"][3],
        runs["base"][3],
    )
    times = {name: [] for name in runs}
    for i in range(args.repeats + 1):  # the first call compiles; it is dropped
        for name, run in runs.items():
            step, params, opt_state, _ = run
            start = time.perf_counter()
            params, opt_state, value = step(params, opt_state, x, targets)
            jax.block_until_ready((params, opt_state, value))
            if i:
                times[name].append(time.perf_counter() - start)
            run[1], run[2] = params, opt_state

    ours, base = (statistics.median(times[n]) * 1e3 for n in ("jnn", "base"))
    print(
        f"device: {jax.devices()[0].platform}, batch {args.batch}, "
        f"median of {args.repeats} interleaved train steps"
    )
    print(f"jnn max_pool          {ours:8.2f} ms/step")
    print(f"lax.reduce_window     {base:8.2f} ms/step")
    print(f"jnn/base ratio        {ours / base:8.2f}")
    print(f"gradients bitwise equal: {all(jax.tree.leaves(same))}")


if __name__ == "__main__":
    main()
