"""Benchmark (not a test): jitted forward+backward of an LSTM `rnn` by length.

Times one `jit(value_and_grad(loss))` call of `jnn.layers.rnn(lstm_cell(H))`
at several sequence lengths T, against a hand-written pure-JAX LSTM
`lax.scan` in the same process. Reports the median of several runs after a
warm-up call (which also compiles), the time per step (flat across T means
cost grows linearly with T), the jnn/baseline ratio, the first-call (compile)
time and the number of traces per T (1: the unroll compiles once per length).

Usage:
  python benchmarks/rnn_unroll.py                      # T = 32, 128, 512
  python benchmarks/rnn_unroll.py --lengths 64 256 --repeats 21
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jnn.layers.cells import lstm_cell
from jnn.layers.recurrent import rnn

B, F, H = 32, 64, 64


def baseline_lstm(params, x):
    """The same LSTM (PyTorch gate order i, f, g, o) written directly on scan."""

    def step(carry, x_t):
        h, c = carry
        z = x_t @ params["w_i"] + h @ params["w_h"] + params["bias"][None]
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((x.shape[0], H), x.dtype)
    _, ys = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(ys, 0, 1)


def make_step(forward, traces):
    """Return jit(value_and_grad) of a mean-square loss on `forward`'s output."""

    def loss(params, x):
        traces.append(x.shape[1])  # Python side effect: runs only while tracing
        return jnp.mean(forward(params, x) ** 2)

    return jax.jit(jax.value_and_grad(loss))


def time_steps(steps, params, x, repeats):
    """Return (first-call seconds, median seconds) per step function.

    Calls alternate between the functions, so load changes on a shared
    machine hit both alike and the ratio stays meaningful.
    """
    firsts, times = [], [[] for _ in steps]
    for step in steps:
        start = time.perf_counter()
        jax.block_until_ready(step(params, x))  # warm-up: trace and compile
        firsts.append(time.perf_counter() - start)
    for _ in range(repeats):
        for step, runs in zip(steps, times, strict=True):
            start = time.perf_counter()
            jax.block_until_ready(step(params, x))
            runs.append(time.perf_counter() - start)
    return [(f, statistics.median(t)) for f, t in zip(firsts, times, strict=True)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args(argv)

    layer = rnn(lstm_cell(H))
    params, state = layer.init(jr.key(0), jax.ShapeDtypeStruct((B, 1, F), jnp.float32))
    jnn_traces, base_traces = [], []
    jnn_step = make_step(lambda p, x: layer.apply(p, state, x)[0], jnn_traces)
    base_step = make_step(baseline_lstm, base_traces)
    rng = np.random.default_rng(0)

    print(
        f"device: {jax.devices()[0].platform}, B={B} F={F} H={H}, "
        f"median of {args.repeats} runs (forward + backward)"
    )
    print(
        f"{'T':>5} {'jnn ms':>9} {'us/step':>9} {'base ms':>9} {'us/step':>9} "
        f"{'jnn/base':>9} {'compile s':>10} {'traces':>7}"
    )
    for steps in args.lengths:
        x = jnp.asarray(rng.standard_normal((B, steps, F)), jnp.float32)
        (first, ours), (_, base) = time_steps(
            (jnn_step, base_step), params, x, args.repeats
        )
        print(
            f"{steps:>5} {ours * 1e3:>9.2f} {ours / steps * 1e6:>9.1f} "
            f"{base * 1e3:>9.2f} {base / steps * 1e6:>9.1f} {ours / base:>9.2f} "
            f"{first:>10.2f} {jnn_traces.count(steps):>7}"
        )


if __name__ == "__main__":
    main()
