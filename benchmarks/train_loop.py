"""Benchmark (not a test): jnn's training loop against a hand-written JAX loop.

Both train the same MLP (the default config's model without dropout:
64 -> 256 -> 128 -> 10, GELU)
with the same optax optimizer on the same shuffled digits batches. jnn runs
`jnn.runs.loop.run_epoch` with its full step (metrics, gradient norm,
non-finite guard, padding mask, progress bookkeeping); the baseline is the
minimum a person would write by hand: a donated `jit` of value_and_grad +
optax update, and a device-side running loss. Epochs alternate between the
two so load on a shared machine hits both alike. Prints microseconds per step
and the jnn/baseline ratio (below 1.0 = jnn is faster).

Usage:
  python benchmarks/train_loop.py                 # configs/mlp_digits.toml
  python benchmarks/train_loop.py --batch-size 16 --epochs 20
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from jnn import config as config_lib
from jnn.runs import loop
from jnn.train import batches, setup, supervised, supervised_run


def baseline_step(optimizer):
    """The hand-written step: softmax cross-entropy, grads, optax update."""

    def forward(params, x):
        *hidden, (w, b) = params
        x = x.reshape(x.shape[0], -1)
        for wh, bh in hidden:
            x = jax.nn.gelu(x @ wh + bh)
        return x @ w + b

    def loss_fn(params, x, y):
        logits = forward(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step, donate_argnums=(0, 1))


def baseline_epoch(step, params, opt_state, x, y, batch_size, seed, epoch):
    total = jnp.zeros(())
    for batch in batches.epoch_batches(x, y, batch_size, "drop", seed, epoch):
        params, opt_state, loss = step(params, opt_state, batch.x, batch.y)
        total = total + loss
    total.block_until_ready()
    return params, opt_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/mlp_digits.toml")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    overrides = [f"train.batch_size={args.batch_size}", "train.ragged=drop"]
    overrides.append("model.dropout=0.0")  # the baseline has no dropout
    cfg = config_lib.load(args.config, overrides)
    run = setup.build(cfg)
    x, y = run.splits.train.x, run.splits.train.y
    pieces = supervised_run.pieces(cfg, run)
    ts = supervised.initial_state(pieces)
    step, _ = supervised.steps(pieces)
    plan = supervised.array_plan(
        x, y, epochs=args.epochs + 1, batch_size=run.batch_size, ragged="drop"
    )
    dense = [v for k, v in sorted(ts.params.items()) if "weight" in v]
    params = [(jnp.copy(v["weight"]), jnp.copy(v["bias"])) for v in dense]
    opt_state = run.optimizer.init(params)
    base = baseline_step(run.optimizer)
    steps = run.steps_per_epoch
    jnn_times, base_times = [], []
    for epoch in range(args.epochs + 1):  # epoch 0 compiles both and is dropped
        start = time.perf_counter()
        ts, pos = loop.run_epoch(step, ts, plan, loop.Position(epoch))
        jax.block_until_ready(pos.totals)
        jnn_times.append((time.perf_counter() - start) / steps)
        start = time.perf_counter()
        params, opt_state = baseline_epoch(
            base, params, opt_state, x, y, run.batch_size, 0, epoch
        )
        base_times.append((time.perf_counter() - start) / steps)
    ours, theirs = (statistics.median(t[1:]) * 1e6 for t in (jnn_times, base_times))
    print(f"{jax.devices()[0].platform}: {steps} steps/epoch of batch {run.batch_size}")
    print(f"jnn loop     {ours:8.1f} us/step")
    print(f"hand-written {theirs:8.1f} us/step")
    print(f"ratio jnn/baseline {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
