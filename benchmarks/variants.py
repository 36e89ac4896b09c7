"""The ways the suite runs one workload, each a `run()` of K steps that blocks.

- `jax`: the hand-written step, jitted with params and opt state donated,
  called once per pre-placed batch.
- `jax_fused`: that same step K times in one jitted `lax.scan` (a reference
  for what fusing can reach without a library).
- `jax_layers`: the hand-written step around jnn's model (`model.apply`): it
  splits a gap between `jax` and `bare` into the layers' formulation
  (`jax` vs `jax_layers`) and the step's own cost (`jax_layers` vs `bare`).
- `bare`: `jax.jit(make_train_step(...), donate_argnums=0)`, as the README
  shows.
- `fit`: the step `jnn.train.fit` runs, built by the same code path
  (`supervised.steps`: non-finite guard, accuracy metric, padding mask).
- `fused`: that `fit` step K times per dispatch with `jnn.train.scan_steps`.
- `loop`: the engine's host loop (`jnn.runs.loop.run_epoch`) running the
  `fit` step over pre-placed batches: the metric fold, the non-finite checks
  and the bookkeeping, without the host-side shuffling and batching.
- `loop_fused`: that loop with `fuse_steps` = K (the engine's fused path,
  `train.fuse_steps`): K host batches stacked and sent in one dispatch.
- `loop_mesh1`: that loop on a 1-device mesh (`jnn.runs.mesh.Placement`
  with an explicit mesh): the sharded step's cost on one device.
- `loop_device`: the loop as `fit` runs it on data that fits on the device
  (`supervised.array_plan`: the training split placed once, each step
  gathering its rows there), with `fuse_steps` = K: the whole loop of
  `fit(..., settings=Settings(fuse_steps=K))`, host shuffling included.

Every variant starts from its own state and consumes the same K batches per
round, already on the device.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import workloads
from workloads import Workload

from jnn import losses
from jnn.runs import loop, mesh
from jnn.train import Batch, create, fitting, make_train_step, scan_steps, supervised

NAMES = (
    "jax",
    "jax_fused",
    "jax_layers",
    "bare",
    "fit",
    "fused",
    "loop",
    "loop_fused",
    "loop_mesh1",
    "loop_device",
)


def _hand(w: Workload, xs, ys, layers: bool = False) -> Callable[[], None]:
    if layers:  # jnn's model inside the hand-written step
        model = w.model()
        params, state = model.init(jr.key(0), xs[0])

        def forward(params, x):
            return model.apply(params, state, x, train=True)[0]

        step = jax.jit(workloads.hand_step(w, forward), donate_argnums=(0, 1))
    else:
        step = jax.jit(workloads.hand_step(w), donate_argnums=(0, 1))
        params = w.init(jr.key(0))
    opt_state = workloads.optimizer().init(params)
    batches = [(xs[k], ys[k]) for k in range(len(xs))]

    def run():
        nonlocal params, opt_state
        for x, y in batches:
            params, opt_state, loss = step(params, opt_state, x, y)
        jax.block_until_ready((params, opt_state, loss))

    return run


def _hand_fused(w: Workload, xs, ys) -> Callable[[], None]:
    step = workloads.hand_step(w)

    def body(carry, batch):
        params, opt_state, loss = step(*carry, *batch)
        return (params, opt_state), loss

    fused = jax.jit(
        lambda carry, data: jax.lax.scan(body, carry, data), donate_argnums=0
    )
    params = w.init(jr.key(0))
    carry = (params, workloads.optimizer().init(params))

    def run():
        nonlocal carry
        carry, losses_k = fused(carry, (xs, ys))
        jax.block_until_ready((carry, losses_k))

    return run


def fit_step(w: Workload, x_host: np.ndarray, y_host: np.ndarray):
    """The jitted, donated step `fit` builds, and its initial `TrainState`.

    The pieces are assembled the way `jnn.train.fit` assembles them (its
    split validation, its default metrics), then `supervised.steps` and
    `supervised.initial_state` build the step and state as for a run.
    """
    splits = fitting._splits((x_host, y_host), None, None)
    pieces = supervised.Pieces(
        w.model(),
        losses.get("sparse_softmax_cross_entropy"),
        workloads.optimizer(),
        splits,
        epochs=1,
        batch_size=w.batch,
        metrics=fitting._metrics(None, splits),  # fit's default: accuracy
    )
    step, _ = supervised.steps(pieces)
    return step, supervised.initial_state(pieces)


def _per_step(step, ts, batches) -> Callable[[], None]:
    def run():
        nonlocal ts
        for batch in batches:
            ts, logs = step(ts, batch)
        jax.block_until_ready((ts, logs))

    return run


def _fused(step, ts, stacked: Batch) -> Callable[[], None]:
    fused = scan_steps(step)

    def run():
        nonlocal ts
        ts, logs = fused(ts, stacked)
        jax.block_until_ready((ts, logs))

    return run


def _loop(step, ts, batches, plan=None, **hooks) -> Callable[[], None]:
    plan = plan or loop.Plan(
        1,
        lambda epoch: len(batches),
        lambda epoch, start: batches[start:],
        supervised.batch_weight,
    )
    epoch = 0

    def run():
        nonlocal ts, epoch
        ts, pos = loop.run_epoch(
            step, ts, plan, loop.Position(epoch), loop.Hooks(**hooks)
        )
        jax.block_until_ready((ts, pos.totals, pos.count))
        epoch += 1

    return run


def build(w: Workload, names, seed: int = 0) -> dict[str, Callable[[], None]]:
    """`{name: run}` for the variants in `names`, each over the same K batches."""
    x_host, y_host = workloads.synthetic(w, w.steps, seed)
    xs, ys = jnp.asarray(x_host), jnp.asarray(y_host)
    mask = jnp.ones(ys.shape, jnp.float32)  # (K, B): every row real
    stacked = Batch(xs, ys, mask)
    batches = [Batch(xs[k], ys[k], mask[k]) for k in range(w.steps)]
    flat = (x_host.reshape(-1, *w.x_shape), y_host.reshape(-1))
    runs = {}
    for name in names:
        if name == "jax":
            runs[name] = _hand(w, xs, ys)
        elif name == "jax_layers":
            runs[name] = _hand(w, xs, ys, layers=True)
        elif name == "jax_fused":
            runs[name] = _hand_fused(w, xs, ys)
        elif name == "bare":
            opt = workloads.optimizer()
            model = w.model()
            loss = losses.sparse_softmax_cross_entropy
            step = jax.jit(make_train_step(model, loss, opt), donate_argnums=0)
            ts = create(model, opt, jr.key(0), batches[0].x)
            runs[name] = _per_step(step, ts, batches)
        else:
            step, ts = fit_step(w, *flat)
            if name == "fused":
                runs[name] = _fused(step, ts, stacked)
            elif name == "loop_fused":
                host = [jax.tree.map(np.asarray, b) for b in batches]
                runs[name] = _loop(step, ts, host, fuse_steps=len(host))
            elif name == "loop_device":
                plan = supervised.array_plan(
                    *flat, epochs=1 << 30, batch_size=w.batch, ragged="drop"
                )
                runs[name] = _loop(step, ts, None, plan, fuse_steps=w.steps)
            elif name == "loop_mesh1":
                one = mesh.Placement(mesh._make_mesh(1))
                placed = [one.batch(b) for b in batches]
                runs[name] = _loop(step, one.state(ts), placed, placement=one)
            else:
                runs[name] = {"fit": _per_step, "loop": _loop}[name](step, ts, batches)
    return runs
