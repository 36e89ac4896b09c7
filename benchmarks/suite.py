"""Benchmark suite (not a test): jnn's training paths against hand-written JAX.

Issue 12's four workloads and a transformer block (`workloads.py`) each
run every variant of `variants.py` (hand-written JAX, jnn's bare step, the
step `fit` runs, the fused path, the engine's host loop) in one process;
the DCGAN of configs/gan_mnist.toml runs those of `gan_variants.py`.
Rounds interleave the variants (in a rotating order) so that load on a
shared machine hits them alike; each round times K steps per variant, and
the table gives the median over rounds in ms per step, the ratio to the
hand-written step, the achieved FLOP/s (XLA's cost analysis of the
hand-written step) as a fraction of a large matmul's FLOP/s measured in the
same rounds, and the compile time (the first round's extra time). On a
shared machine the least loaded round (`min ms`, and its ratio to the
hand-written step's least loaded round) is the steadier number. Results
also go to JSON.

Usage (from the repo root, with jnn installed or PYTHONPATH=.):
  python benchmarks/suite.py                       # about 7 minutes on 2 cores
  python benchmarks/suite.py --quick --workloads tiny,mlp --json out.json
"""

import argparse
import json
import os
import platform
import statistics
import time

import gan_variants
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import variants
import workloads

MATMUL = 1024  # the peak reference: an (N, N) @ (N, N) float32 matmul
WORKLOADS = {**workloads.WORKLOADS, "dcgan": gan_variants.WORKLOAD}
ALL_VARIANTS = tuple(dict.fromkeys(variants.NAMES + gan_variants.NAMES))


def step_flops(w: workloads.Workload) -> float | None:
    """FLOPs of one hand-written training step, from XLA's cost analysis."""
    step = workloads.hand_step(w, w.count_forward)
    params = w.init(jr.key(0))
    opt_state = workloads.optimizer().init(params)
    x = jnp.zeros((w.batch, *w.x_shape), jnp.float32)
    y = jnp.zeros((w.batch,), jnp.int32)
    try:
        cost = jax.jit(step).lower(params, opt_state, x, y).compile().cost_analysis()
    except Exception:  # not every backend reports costs
        return None
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost["flops"]) if cost and "flops" in cost else None


def matmul_probe():
    """A `run()` timing one big matmul, and its FLOPs."""
    a = jr.normal(jr.key(1), (MATMUL, MATMUL), jnp.float32)
    matmul = jax.jit(lambda a: a @ a)
    matmul(a).block_until_ready()

    def run():
        matmul(a).block_until_ready()

    return run, 2.0 * MATMUL**3


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(w: workloads.Workload, names, rounds: int, probe) -> dict:
    """Interleaved rounds of every variant of `w`; seconds per step, per round."""
    runs = w.build(w.steps, names) if w.build else variants.build(w, names)
    first = {name: _timed(run) for name, run in runs.items()}  # compiles
    times = {name: [] for name in runs}
    peak = []
    order = list(runs)
    for r in range(rounds):
        peak.append(_timed(probe))
        for name in order[r % len(order) :] + order[: r % len(order)]:
            times[name].append(_timed(runs[name]) / w.steps)
    return {"first": first, "times": times, "matmul_s": peak}


def summarise(w: workloads.Workload, raw: dict, matmul_flops: float) -> dict:
    """Medians, ratios to hand-written JAX, FLOP fractions, compile times."""
    flops = w.flops() if w.flops else step_flops(w)
    peak = matmul_flops / statistics.median(raw["matmul_s"])
    medians = {n: statistics.median(t) for n, t in raw["times"].items()}
    base = medians.get("jax")
    best_base = min(raw["times"]["jax"]) if "jax" in raw["times"] else None
    rows = {}
    for name, sec in medians.items():
        best = min(raw["times"][name])
        rows[name] = {
            "ms_per_step": sec * 1e3,
            "ratio": sec / base if base else None,
            "min_ms_per_step": best * 1e3,  # the least loaded round
            "min_ratio": best / best_base if best_base else None,
            "peak_fraction": flops / sec / peak if flops else None,
            "compile_s": max(raw["first"][name] - sec * w.steps, 0.0),
            "rounds_ms": [t * 1e3 for t in raw["times"][name]],
        }
    return {
        "title": w.title,
        "steps_per_round": w.steps,
        "flops_per_step": flops,
        "matmul_gflops": peak / 1e9,
        "variants": rows,
    }


def table(results: dict) -> str:
    head = f"{'workload':<11} {'variant':<11} {'ms/step':>9} {'vs jax':>7} "
    head += f"{'min ms':>9} {'vs jax':>7} {'%peak':>6} {'compile s':>9}"
    lines = [head, "-" * len(head)]
    for name, res in results.items():
        for variant, row in res["variants"].items():
            ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
            best = f"{row['min_ratio']:.2f}x" if row["min_ratio"] else "-"
            frac = row["peak_fraction"]
            frac = f"{100 * frac:.1f}" if frac is not None else "-"
            lines.append(
                f"{name:<11} {variant:<11} {row['ms_per_step']:>9.3f} {ratio:>7} "
                f"{row['min_ms_per_step']:>9.3f} {best:>7} "
                f"{frac:>6} {row['compile_s']:>9.2f}"
            )
        gflops = res["matmul_gflops"]
        lines.append(f"{'':11} (matmul {MATMUL}^3: {gflops:.1f} GFLOP/s)")
    return "\n".join(lines)


def machine() -> dict:
    return {
        "platform": jax.devices()[0].platform,
        "device": str(jax.devices()[0]),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "jax": jax.__version__,
        "optax": optax.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, not 7")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--variants", default=",".join(ALL_VARIANTS))
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument(
        "--all", action="store_true", help="also run variants slow on CPU"
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    names = args.variants.split(",")
    for name in names:
        if name not in ALL_VARIANTS:
            parser.error(f"unknown variant {name!r}; choose from {ALL_VARIANTS}")
    for name in args.workloads.split(","):
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name!r}; choose from {tuple(WORKLOADS)}")
    info = machine()
    print(f"{info['device']}, {info['cpus']} CPUs, load {info['load_avg']}")
    print(f"median over {rounds} interleaved rounds; ratio to hand-written jit")
    probe, matmul_flops = matmul_probe()
    results = {}
    for name in args.workloads.split(","):
        w = WORKLOADS[name]
        chosen = [n for n in names if n in (w.variants or variants.NAMES)]
        if info["platform"] == "cpu" and not args.all:
            slow = [n for n in chosen if n in w.slow_on_cpu]
            chosen = [n for n in chosen if n not in w.slow_on_cpu]
            for skipped in slow:
                print(f"{name}: skipping {skipped} on CPU (slow; --all runs it)")
        raw = measure(w, chosen, rounds, probe)
        results[name] = summarise(w, raw, matmul_flops)
        print(table({name: results[name]}).split("\n", 2)[2], flush=True)
    print()
    print(table(results))
    info["load_avg_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rounds": rounds, "results": results}, f)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
