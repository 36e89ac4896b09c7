"""Supervised runs by the engine: a config -> `Task`; a saved run -> model and metrics.

The three functions `jnn.runs.tasks` asks of every task: `task(cfg)`,
`loader(meta, ckpt, model)` for `jnn.load_run`, and `evaluate(run, split, data)`.
"""

import jax
import numpy as np

from jnn import _checks, data, losses, models
from jnn import config as config_lib
from jnn.data.classes import class_names
from jnn.runs.engine import Settings, Task, settings_of
from jnn.runs.mesh import Placement
from jnn.runs.restore import Loader, Run
from jnn.train import early_stopping, precision, setup, supervised
from jnn.train.step import make_eval_step


def resolve(saved: dict) -> dict:
    """A saved config with today's defaults filled in (as saved if it no
    longer loads), for the resume comparison."""
    try:
        return config_lib.to_dict(config_lib.from_dict(saved, "checkpoint config"))
    except (ValueError, TypeError):
        return saved


def pieces(cfg, run: setup.Setup) -> supervised.Pieces:
    """The supervised pieces of `cfg`, from its built `setup.Setup`."""
    return supervised.Pieces(
        run.model,
        run.loss_fn,
        run.optimizer,
        run.splits,
        cfg.train.epochs,
        run.batch_size,
        seed=cfg.train.seed,
        metrics=run.metrics,
        penalty=setup.penalty(cfg),
        augment=run.augment,
        ragged=cfg.train.ragged,
        eval_batch_size=run.eval_batch_size,
        schedule=run.schedule,
        placement=_placement(cfg),
        precision=cfg.train.precision,
    )


def _placement(cfg) -> Placement:
    """The devices of `cfg`'s [mesh]; its batch size must divide over them."""
    placement = Placement.from_config(cfg.mesh)
    if cfg.train.batch_size:  # 0: the full batch, checked once resolved
        placement.check_batch(cfg.train.batch_size, "train.batch_size")
    return placement


def task(cfg) -> tuple[Task, Settings, tuple]:
    """The engine task, settings and callbacks (early stopping) of `cfg`."""
    run = setup.build(cfg)
    p = pieces(cfg, run)
    state = supervised.initial_state(p)
    setup.check_output(run, state)
    source = cfg.train.init_from

    def fine_tune(fresh):  # only when starting fresh: a resumed run has its own
        return setup.fine_tune(run, fresh, source)

    splits = run.splits
    made = supervised.make_task(
        p,
        state=state,
        config=config_lib.to_dict(cfg),
        config_text=config_lib.to_toml(cfg),
        resolve_config=resolve,
        metadata=_metadata(cfg, splits),
        arrays=supervised.input_arrays(splits),
        baselines=data.baselines(cfg.data, splits),
        warm_start=fine_tune if source else None,
        facts={"config": config_changes(cfg)},
    )
    return made, settings_of(cfg.train), callbacks(cfg)


def config_changes(cfg) -> str:
    """The start block's config line: `key=value` for every field that differs
    from the defaults of the config's task (a field of another kind, such as
    `optim.momentum` of sgd, is compared with that kind's default)."""
    now = _flat(config_lib.to_dict(cfg))
    chosen = {"train.task": cfg.train.task}
    first = base = _defaults(chosen)
    for key, value in now.items():  # adopt each chosen kind (a tag) in turn
        if isinstance(value, str) and base.get(key, value) != value:
            trial = _defaults({**chosen, key: value})
            if trial is not None and set(trial) != set(base):
                chosen, base = {**chosen, key: value}, trial
    changed = [
        f"{key}={value}"
        for key, value in now.items()
        if base.get(key, _UNSET) != value
        or (first.get(key, _UNSET) != value and key in chosen)
    ]
    return ", ".join(changed) if changed else "the defaults"


_UNSET = object()  # a field the defaults do not write


def _defaults(chosen: dict) -> dict | None:
    """Flat defaults with the `chosen` dotted fields set (None if refused)."""
    raw: dict = {}
    for dotted, value in chosen.items():
        *path, last = dotted.split(".")
        table = raw
        for part in path:
            table = table.setdefault(part, {})
        table[last] = value
    try:
        return _flat(config_lib.to_dict(config_lib.from_dict(raw, "defaults")))
    except (ValueError, TypeError):
        return None


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _metadata(cfg, splits) -> dict:
    """What `load_run` needs of a config run: inputs, targets, class names."""
    names = class_names(cfg.data.name)
    return supervised.input_metadata(splits) | {"class_names": names}


def callbacks(cfg) -> tuple:
    """Early stopping from `[early_stopping]`, if enabled."""
    es = cfg.early_stopping
    if not es.enabled:
        return ()
    return (
        early_stopping.callback(
            es.monitor,
            mode=es.mode,
            patience=es.patience,
            min_delta=es.min_delta,
            restore_best=es.restore_best,
        ),
    )


def loader(meta: dict, ckpt, model) -> Loader:
    """The model of a supervised checkpoint: rebuilt from its config, or the
    `model` a Python run (`jnn.train.fit`) must be given."""
    saved = meta.get("config", {})
    if "inputs" not in meta:
        hint = "it was written by an older jnn; retrain, or restore it by hand"
        raise _checks.value_error(
            "load_run", f"input metadata in '{ckpt}'", "none", hint
        )
    if "python" in saved:
        if model is None:
            hint = "pass load_run(path, model=the_same_model)"
            raise _checks.value_error(
                "load_run",
                f"a `model` for '{ckpt}', a run of a model built in Python",
                "model=None",
                hint,
            )
        cfg = saved
    else:
        if model is not None:
            hint = "drop model=: a config run rebuilds its model from its config"
            raise _checks.value_error(
                "load_run", f"no `model` for config run '{ckpt}'", "a model", hint
            )
        cfg = config_lib.from_dict(saved, source=f"{ckpt}/manifest.json")
        model = models.from_config(cfg.model, _out_features(meta))
    model = precision.cast_model(model, meta.get("precision", "float32"))
    spec = meta["inputs"]
    x_spec = jax.ShapeDtypeStruct((1, *spec["shape"]), np.dtype(spec["dtype"]))
    params, state = jax.eval_shape(model.init, jax.random.key(0), x_spec)
    return Loader(cfg, model, "params", "state", params, state)


def _out_features(meta: dict) -> int:
    if meta["num_classes"] is not None:
        return meta["num_classes"]
    return meta["targets"]["shape"][-1]


def evaluate(run: Run, split: str, data_pair) -> dict:
    """Metrics of a loaded supervised run on its `split` (config runs) or on
    `data_pair` (Python runs), equal to the ones the run logged."""
    _checks.one_of("evaluate", "split", split, ("train", "val", "test"))
    if "python" in run.metadata.get("config", {}):
        return _evaluate_python(run, data_pair)
    if data_pair is not None:
        hint = "config runs evaluate their own splits; use run.predict for new data"
        raise _checks.value_error("evaluate", "data=None", "data", hint)
    built = setup.build(run.config)
    _check_same_norm(run, built.splits)
    eval_step = jax.jit(make_eval_step(run.model, built.loss_fn, built.metrics))
    part = getattr(built.splits, split)
    return supervised.evaluate(
        eval_step, run.params, run.state, part.x, part.y, built.eval_batch_size
    )


def _check_same_norm(run: Run, splits) -> None:
    """Refuse to report metrics on data that no longer normalises as trained."""
    saved, now = run.norm, splits.norm
    same = (saved is None) == (now is None)
    if same and saved is not None:
        same = all(np.array_equal(a, b) for a, b in zip(saved, now, strict=True))
    if not same:
        raise _checks.value_error(
            "evaluate",
            f"the training data of '{run.path}' (same normalisation statistics)",
            "different statistics",
            "the data files changed since the run was trained",
        )


def _evaluate_python(run: Run, data_pair) -> dict:
    name = run.config["python"]["loss"]
    if data_pair is None or name not in losses.NAMES:
        hint = "pass run.evaluate(data=(x, y)); a custom loss: use run.predict"
        raise _checks.value_error(
            "evaluate",
            "`data` and a loss from jnn.losses.NAMES for a Python run",
            f"data={'None' if data_pair is None else '(x, y)'}, loss {name!r}",
            hint,
        )
    from jnn import metrics as metrics_lib

    x, y = (np.asarray(a) for a in data_pair)
    # The metrics `fit` knows by name (a custom callable cannot be rebuilt).
    named = {
        "accuracy": metrics_lib.accuracy,
        "binary_accuracy": metrics_lib.binary_accuracy,
    }
    chosen = {k: named[k] for k in run.config["python"]["metrics"] if k in named}
    eval_step = jax.jit(make_eval_step(run.model, losses.get(name), chosen))
    return supervised.evaluate(eval_step, run.params, run.state, x, y, 1024)
