"""`fit` (a model built in Python) and `fit_config` (a config): one engine.

Both build a `jnn.runs.engine.Task` and hand it to `jnn.runs.engine.run`, so
a Python run gets the same run directory, checkpoints, bitwise resume,
pre-emption, progress, logs and callbacks as `scripts/train.py`.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import optax

from jnn import _checks, losses
from jnn import metrics as metrics_lib
from jnn._types import Layer
from jnn.data.dataset import Dataset, Splits, validate
from jnn.runs import engine
from jnn.runs.callbacks import Callback
from jnn.runs.engine import ResumeOptions, RunResult, Settings
from jnn.runs.mesh import Placement
from jnn.train import batches, supervised

if TYPE_CHECKING:
    from jax.sharding import Mesh

_EMPTY = (np.zeros((0, 1), np.float32), np.zeros((0,), np.int32))


def fit(
    model: Layer,
    loss: str | Callable,
    optimizer: optax.GradientTransformation,
    train: tuple,
    *,
    val: tuple | None = None,
    test: tuple | None = None,
    epochs: int,
    batch_size: int,
    workdir: str | Path | None = None,
    metrics: Mapping[str, Callable] | Sequence[str] | None = None,
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    penalty: Callable | None = None,
    augment: Callable | None = None,
    settings: Settings | None = None,
    log: Callable[[str], None] | None = print,
    progress=None,
    resume: ResumeOptions | None = None,
    stop: Callable[[], int | None] | None = None,
    mesh: "int | Mesh | Placement | None" = None,
    precision: str = "float32",
) -> RunResult:
    """Train a model built in Python on `(x, y)` arrays with the run engine.

    Inputs are used as given (no normalisation). Integer `y` are class
    labels (accuracy is reported unless `metrics` says otherwise); float `y`
    are regression targets. The run directory, if any, is the same as a
    config run's; its `config.toml` records the run settings and data
    shapes, which a resumed run must match. Load it with
    `jnn.load_run(path, model=model)`.

    Args:
      model: Any `jnn.Layer`; its output must fit `loss` and `y`.
      loss: A per-example loss `loss(outputs, y) -> (B,)`, or a name from
        `jnn.losses.NAMES`.
      optimizer: An optax `GradientTransformation`.
      train: `(x, y)` arrays (NumPy or JAX), x floating point.
      val: Optional `(x, y)` evaluated after every epoch (`val_*` entries).
      test: Optional `(x, y)` evaluated once at the end (`result.test`).
      epochs: Passes over `train`. Must be > 0.
      batch_size: Examples per step; 0 means the whole training set. The
        last partial batch is padded and masked.
      workdir: Run directory (created; resumed if it holds checkpoints), or
        None to write nothing.
      metrics: `{name: fn(outputs, y) -> (B,)}` or names from `jnn.metrics`
        ("accuracy", ...). Default: accuracy for integer labels, else none.
      callbacks: `jnn.runs.callbacks.Callback`s, e.g.
        `jnn.train.early_stopping.callback("val_loss", patience=5)`.
      seed: Seeds initialisation, shuffling and dropout.
      penalty: Optional `penalty(params) -> scalar` added to the loss.
      augment: Optional `augment(key, x) -> x` applied to each training
        batch inside the jitted step, e.g. `jnn.data.augment.make(shift=1)`.
      settings: Checkpoint cadence and retention, non-finite handling,
        TensorBoard, steps per dispatch (`jnn.runs.engine.Settings`; its
        `fuse_steps` = 0 lets `jnn.runs.fusing` choose); None means the
        defaults.
      log, progress, resume, stop: As `jnn.runs.engine.run`.
      mesh: The devices to spread the run over, as a config's [mesh]: the
        size of the data axis (0 = all devices), a `jax.sharding.Mesh` with
        a "data" axis of type Auto, or a `jnn.runs.mesh.Placement` (e.g.
        `Placement.of(4, fsdp=True)`); None runs on the default device.
        `batch_size` must divide over the data axis.
      precision: The compute dtype, "float32", "bfloat16" or "float16"
        (params, optimizer state, loss and metrics stay float32; float16
        scales the loss dynamically; see `jnn.train.precision`); `load_run`
        applies the same.

    Returns:
      A `RunResult`: `state` (the final `TrainState`), `history`, `test`,
      `best_epoch`, `run_dir`, `results`.

    Raises:
      ValueError: for mismatched lengths, non-finite inputs or targets,
        negative labels, unknown loss or metric names, a `batch_size` < 0,
        and everything `jnn.runs.engine.run` raises (locks, resume).
      TypeError: for non-array data or integer inputs.
    """
    settings = settings or Settings()
    loss_fn = losses.get(loss) if isinstance(loss, str) else loss
    splits = _splits(train, val, test)
    pieces = supervised.Pieces(
        model,
        loss_fn,
        optimizer,
        splits,
        epochs,
        batches.resolve_batch_size(batch_size, len(splits.train.x), "batch_size"),
        seed=seed,
        metrics=_metrics(metrics, splits),
        penalty=penalty,
        augment=augment,
        placement=Placement.of(mesh),
        precision=precision,
    )
    config = _python_config(pieces, loss, settings)
    task = supervised.make_task(
        pieces,
        config=config,
        config_text=_python_config_text(config),
        metadata=supervised.input_metadata(splits),
    )
    return engine.run(
        task,
        settings,
        workdir,
        log=log,
        progress=progress,
        resume=resume,
        stop=stop,
        callbacks=callbacks,
    )


def fit_config(
    cfg,
    workdir: str | Path | None = None,
    *,
    log: Callable[[str], None] | None = print,
    progress=None,
    resume: ResumeOptions | None = None,
    stop: Callable[[], int | None] | None = None,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Train what the config `cfg` describes (any task) with the run engine.

    `scripts/train.py` calls this. The run directory gets `config.toml` (the
    resolved config), `metrics.jsonl`, `metrics.csv`, checkpoints,
    `results.json` and the task's artefacts.

    Args:
      cfg: A validated `jnn.config.Config`.
      workdir, log, progress, resume, stop, callbacks: As `fit`.

    Raises:
      As `jnn.runs.engine.run`, and the task's configuration errors.
    """
    from jnn.runs import tasks  # lazy: tasks import their whole stacks

    task, settings, own = tasks.from_config(cfg)
    return engine.run(
        task,
        settings,
        workdir,
        log=log,
        progress=progress,
        resume=resume,
        stop=stop,
        callbacks=(*own, *callbacks),
    )


def _host(where: str, pair) -> Dataset:
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        got = type(pair).__name__
        raise _checks.type_error("fit", f"`{where}` as an (x, y) pair", got)
    return Dataset(np.asarray(pair[0]), np.asarray(pair[1]))


def _splits(train, val, test) -> Splits:
    """Host copies of the splits, validated like the built-in data sets."""
    parts = {"train": _host("train", train)}
    for name, pair in (("val", val), ("test", test)):
        parts[name] = _host(name, pair) if pair is not None else None
    given = [d for d in parts.values() if d is not None]
    classes = None
    if all(np.issubdtype(d.y.dtype, np.integer) for d in given):
        classes = int(max(d.y.max(initial=0) for d in given)) + 1
    for name, dataset in parts.items():
        if dataset is not None:
            validate(dataset, f"fit ({name} split)", classes)
    empty = Dataset(*_EMPTY)
    return Splits(
        parts["train"], parts["val"] or empty, parts["test"] or empty, classes
    )


def _metrics(metrics, splits: Splits) -> dict:
    if metrics is None:
        return {"accuracy": metrics_lib.accuracy} if splits.num_classes else {}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    known = {
        "accuracy": metrics_lib.accuracy,
        "binary_accuracy": metrics_lib.binary_accuracy,
    }
    for name in metrics:
        _checks.one_of("fit", "metrics", name, tuple(known))
    return {name: known[name] for name in metrics}


def _python_config(pieces: supervised.Pieces, loss, settings: Settings) -> dict:
    """The settings a resumed Python run must match, as plain data."""
    shapes = {
        name: [len(d.x), *d.x.shape[1:]]
        for name, d in zip(("train", "val", "test"), pieces.splits[:3], strict=True)
    }
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "loss")
    return {
        "train": {
            "epochs": pieces.epochs,
            "batch_size": pieces.batch_size,
            "seed": pieces.seed,
            "precision": pieces.precision,
            **settings._asdict(),
        },
        "python": {
            "model": getattr(pieces.model, "kind", "layer"),
            "loss": loss_name,
            "metrics": sorted(pieces.metrics or {}),
            **{f"{name}_shape": shape for name, shape in shapes.items()},
        },
    }


def _python_config_text(config: dict) -> str:
    lines = [
        "# A jnn run of a model built in Python (jnn.train.fit). The model, loss,",
        "# optimizer and data are not described here: load the run with",
        "# jnn.load_run(path, model=the_same_model).",
    ]
    for section, values in config.items():
        lines.append(f"\n[{section}]")
        # JSON scalars and lists of numbers are valid TOML values.
        lines.extend(f"{key} = {json.dumps(v)}" for key, v in values.items())
    return "\n".join(lines) + "\n"
