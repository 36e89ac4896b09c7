"""The supervised task: (x, y) splits, a model, a loss and an optimizer.

`make_task` turns those pieces into a `jnn.runs.engine.Task`; the config
route (`jnn.train.fit_config`) and the Python route (`jnn.train.fit`) both
build their runs through it, so they share every behaviour of the engine.
Classification, regression, sequence forecasting and character language
models are all this one task: they differ only in data, model and loss.
"""

from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn._types import Layer
from jnn.data.dataset import Splits
from jnn.runs import loop
from jnn.runs.engine import Task
from jnn.runs.mesh import ONE_DEVICE, Placement
from jnn.train import batches, precision
from jnn.train.state import TrainState, create
from jnn.train.step import Batch, make_eval_step, make_train_step

NAME = "supervised"


class Pieces(NamedTuple):
    """Everything a supervised run is made of."""

    model: Layer
    loss_fn: Callable  # per-example loss(outputs, targets) -> (B,) or (B, T)
    optimizer: optax.GradientTransformation
    splits: Splits  # host arrays; val / test may be empty
    epochs: int
    batch_size: int  # resolved: > 0
    seed: int = 0  # init, shuffling, dropout
    metrics: Mapping[str, Callable] | None = None  # per-example metrics
    penalty: Callable | None = None  # params -> scalar added to the loss
    augment: Callable | None = None  # augment(key, x) -> x inside the step
    ragged: str = "pad"  # last partial batch: pad (masked) | drop
    eval_batch_size: int = 1024
    schedule: Callable[[int], float] | None = None  # step -> lr, for the log
    placement: Placement = ONE_DEVICE  # devices (`jnn.runs.mesh`)
    precision: str = "float32"  # compute dtype (`jnn.train.precision`)


def batch_weight(batch: Batch) -> jax.Array:
    """Real examples in a batch (padding excluded): the loop's metric weight."""
    return jnp.sum(batch.mask)


def evaluate(
    eval_step,
    params,
    state,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    placement: Placement = ONE_DEVICE,
):
    """Run a jitted `eval_step` over a whole split; return exact metric means.

    On a mesh, each batch is split over its data axis (`batch_size` must
    divide over it; padding rows are masked, so they change nothing).
    """
    if len(x) == 0:
        return {}
    totals = None
    for batch in batches.eval_batches(x, y, batch_size):
        sums = eval_step(params, state, placement.batch(batch))
        totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    count = float(totals.pop("count"))
    return {name: float(value) / count for name, value in totals.items()}


def initial_state(p: Pieces) -> TrainState:
    """A fresh `TrainState` for `p`, initialised for one training batch."""
    x = p.splits.train.x
    x_spec = jax.ShapeDtypeStruct((p.batch_size, *x.shape[1:]), x.dtype)
    key = jax.random.key(p.seed)
    loss_scale = precision.initial_loss_scale(p.precision)
    return create(p.model, p.optimizer, key, x_spec, loss_scale=loss_scale)


def steps(p: Pieces):
    """The jitted train step (state donated, non-finite guard on) and eval step."""
    model = precision.cast_model(p.model, p.precision)
    train_step = make_train_step(
        model,
        p.loss_fn,
        p.optimizer,
        penalty=p.penalty,
        metrics=p.metrics,
        augment=p.augment,
        guard_nonfinite=True,  # the engine stops or skips (on_nonfinite)
    )
    eval_step = make_eval_step(model, p.loss_fn, p.metrics)
    return jax.jit(train_step, donate_argnums=0), jax.jit(eval_step)


# Training splits up to this size live on the device for the whole run.
DEVICE_DATA_BYTES = 1 << 30


def array_plan(
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    ragged: str = "pad",
    seed: int = 0,
    placement: Placement = ONE_DEVICE,
) -> loop.Plan:
    """Epochs of shuffled (x, y) mini-batches; each epoch's order depends on
    (seed, epoch) alone, so a resumed epoch replays the same batches.

    A split of up to `DEVICE_DATA_BYTES` is placed on the device once (on a
    mesh, whole on every device); each step then receives only row indices
    and gathers its batch there, the same values as the host's batches, so
    the run is bitwise the same. Measured with `benchmarks/pipeline.py` on
    an H200, data on the device ran the small MLPs' steps about twice as
    fast as batches copied from the host. Larger splits stream from the
    host, made ahead of the step (`jnn.runs.prefetch`).
    """
    total = batches.num_batches(len(x), batch_size, ragged)
    if x.nbytes + y.nbytes > DEVICE_DATA_BYTES:

        def epoch_batches(epoch: int, start: int):
            return batches.epoch_batches(x, y, batch_size, ragged, seed, epoch, start)

        return loop.Plan(epochs, lambda epoch: total, epoch_batches, batch_weight)

    def epoch_rows(epoch: int, start: int):
        return batches.epoch_rows(len(x), batch_size, ragged, seed, epoch, start)

    source = placement.replicate(jax.device_put((x, y)))
    return loop.Plan(
        epochs,
        lambda epoch: total,
        epoch_rows,
        batch_weight,
        source=source,
        gather=batches.gather_rows,
    )


def make_task(p: Pieces, *, state: TrainState | None = None, **saved) -> Task:
    """The engine `Task` of a supervised run.

    Args:
      p: The run's pieces.
      state: The initial state (e.g. fine-tuned params); None initialises.
      **saved: The `Task` fields describing the run for its directory:
        `config`, `config_text` (required), `resolve_config`, `metadata`,
        `arrays`, `baselines`, and `facts` for the start block (the data
        sizes come first).
    """
    _checks.positive_int("fit", "epochs", p.epochs)
    p.placement.check_batch(p.batch_size, "batch_size")
    facts = {"data": data_sizes(p), **saved.pop("facts", {})}
    saved["metadata"] = {**saved.get("metadata", {}), "precision": p.precision}
    train_step, eval_step = steps(p)
    size = p.placement.round_up(p.eval_batch_size)  # masked padding rows

    def on(split, ts):
        xy = split.x, split.y
        return evaluate(eval_step, ts.params, ts.state, *xy, size, p.placement)

    def validate(ts) -> dict:
        return {f"val_{k}": v for k, v in on(p.splits.val, ts).items()}

    return Task(
        name=NAME,
        state=initial_state(p) if state is None else state,
        step=train_step,
        plan=array_plan(
            p.splits.train.x,
            p.splits.train.y,
            epochs=p.epochs,
            batch_size=p.batch_size,
            ragged=p.ragged,
            seed=p.seed,
            placement=p.placement,
        ),
        validate=validate,
        schedule=p.schedule,
        test=lambda ts: on(p.splits.test, ts),
        facts=facts,
        placement=p.placement,
        **saved,
    )


def data_sizes(p: Pieces) -> str:
    """The start block's data line: examples per split, batches per epoch."""
    train, val, test = (len(d.x) for d in p.splits[:3])
    steps = batches.num_batches(train, p.batch_size, p.ragged)
    shape = "x".join(str(n) for n in p.splits.train.x.shape[1:]) or "scalar"
    return (
        f"train {train:,}, val {val:,}, test {test:,} examples of {shape}; "
        f"batch {p.batch_size}, {steps:,} steps/epoch"
    )


def input_metadata(splits: Splits) -> dict:
    """What a loaded run needs to rebuild its inputs and outputs.

    The per-example input shape and dtype, the number of classes (or the
    regression target shape) and, for text, the vocabulary.
    """
    x, y = splits.train.x, splits.train.y
    meta = {
        "inputs": {"shape": list(x.shape[1:]), "dtype": str(x.dtype)},
        "num_classes": splits.num_classes,
        "targets": {"shape": list(y.shape[1:]), "dtype": str(y.dtype)},
        "has_norm": splits.norm is not None,
    }
    if splits.vocab is not None:
        meta["vocab"] = splits.vocab
    return meta


def input_arrays(splits: Splits) -> dict:
    """The arrays a loaded run needs: the input normalisation statistics."""
    if splits.norm is None:
        return {}
    return {"norm": {"shift": splits.norm.shift, "scale": splits.norm.scale}}
