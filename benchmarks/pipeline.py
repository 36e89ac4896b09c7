"""Benchmark (not a test): does the device wait for host batches in the engine?

The engine's loop (`jnn.runs.loop.run_epoch`) runs the step `jnn.train.fit`
builds over the same data, with the real shuffling and gathering
(`supervised.array_plan`), four ways:

- `device`: what `fit` does with a training split of up to
  `supervised.DEVICE_DATA_BYTES`: the split placed on the device once, each
  step sent only its row indices (`jnn.train.batches.epoch_rows`) and
  gathering its batch there;
- `off`: batches streamed from the host (`batches.epoch_batches`, what `fit`
  does with a larger split) without prefetching (`Hooks(prefetch_depth=0)`):
  each batch is gathered and transferred on the loop's thread just before
  its step;
- `on`: the engine's default on an accelerator (`jnn.runs.prefetch`):
  batches gathered on a thread, `--depth` steps ahead (on one device the
  jitted call still copies each one: an explicit `jax.device_put` ahead was
  slower, see `prefetch.placer`);
- `placed`: the same epoch's batches gathered and put on the device before the
  epoch starts (untimed): the loop with nothing left to wait for.

`on` or `device` near `placed` means the device does not wait. Each round
runs one epoch per way, in a rotating order, so load on a shared machine hits
all alike; the table gives median ms/step over the rounds (after one untimed
round that compiles) and the ratios.

Usage:
  python benchmarks/pipeline.py                      # mlp and tiny workloads
  python benchmarks/pipeline.py --workloads mlp --rounds 9 --depth 3
"""

import argparse
import statistics
import time

import jax
import variants
import workloads

from jnn.runs import loop, prefetch
from jnn.train import supervised

WAYS = ("device", "off", "on", "placed")


def _plans(w: workloads.Workload, steps: int, seed: int):
    """The streaming host plan over `steps` batches of synthetic data, and
    the plan keeping that data on the device."""
    x, y = workloads.synthetic(w, steps, seed)
    x, y = x.reshape(-1, *w.x_shape), y.reshape(-1)  # (steps * B, ...) examples
    kw = dict(epochs=1 << 30, batch_size=w.batch, ragged="drop", seed=seed)
    device = supervised.array_plan(x, y, **kw)
    limit, supervised.DEVICE_DATA_BYTES = supervised.DEVICE_DATA_BYTES, 0
    host = supervised.array_plan(x, y, **kw)
    supervised.DEVICE_DATA_BYTES = limit
    return x, y, host, device


def _placed_plan(host: loop.Plan, epoch: int) -> loop.Plan:
    placed = jax.device_put(list(host.batches(epoch, 0)))
    jax.block_until_ready(placed)
    return host._replace(batches=lambda epoch, start: placed[start:])


def _runner(w, x, y, plans, way: str, depth: int):
    step, ts = variants.fit_step(w, x, y)
    hooks = loop.Hooks(prefetch_depth=depth if way == "on" else 0)

    def run(epoch: int) -> float:
        nonlocal ts
        host, device = plans
        plan = _placed_plan(host, epoch) if way == "placed" else host
        plan = device if way == "device" else plan
        began = time.perf_counter()
        ts, pos = loop.run_epoch(step, ts, plan, loop.Position(epoch), hooks)
        jax.block_until_ready((ts, pos.totals, pos.count))
        return time.perf_counter() - began

    return run


def bench(name: str, rounds: int, depth: int, steps: int | None = None) -> dict:
    """Median ms/step of each way on workload `name`."""
    w = workloads.WORKLOADS[name]
    steps = steps or w.steps
    x, y, *plans = _plans(w, steps, seed=0)
    runs = {way: _runner(w, x, y, plans, way, depth) for way in WAYS}
    times = {way: [] for way in WAYS}
    for epoch in range(rounds + 1):  # round 0 compiles: not counted
        for k in range(len(WAYS)):
            way = WAYS[(epoch + k) % len(WAYS)]
            seconds = runs[way](epoch)
            if epoch:
                times[way].append(1e3 * seconds / steps)
    return {way: statistics.median(t) for way, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["mlp", "tiny"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--depth", type=int, default=prefetch.DEPTH)
    parser.add_argument("--steps", type=int, default=None, help="per epoch")
    args = parser.parse_args()
    print(
        f"{jax.devices()[0].device_kind} ({jax.default_backend()}), "
        f"prefetch depth {args.depth}, {args.rounds} rounds, median ms/step"
    )
    print(
        f"{'workload':<10}{'device':>9}{'off':>9}{'on':>9}{'placed':>9}"
        f"{'on/off':>9}{'device/off':>12}{'device/placed':>15}"
    )
    for name in args.workloads:
        ms = bench(name, args.rounds, args.depth, args.steps)
        device, off, on, placed = (ms[way] for way in WAYS)
        print(
            f"{name:<10}{device:>9.3f}{off:>9.3f}{on:>9.3f}{placed:>9.3f}"
            f"{on / off:>9.2f}{device / off:>12.2f}{device / placed:>15.2f}"
        )


if __name__ == "__main__":
    main()
