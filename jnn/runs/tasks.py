"""The task registry: which module runs, loads and evaluates each task.

A task module provides `task(cfg) -> (Task, Settings, callbacks)` for the
engine, `loader(meta, ckpt, model) -> jnn.runs.restore.Loader` for
`jnn.load_run`, and `evaluate(run, split, data) -> dict`. Modules are
imported on first use, so `jnn.runs` does not pull in every task's stack.
"""

import importlib

from jnn import _checks

_MODULES = {"supervised": "jnn.train.supervised_run", "gan": "jnn.gan.task"}
NAMES = tuple(_MODULES)  # the choices of `train.task`


def module(name: str, where: str = "train.task"):
    """The module of task `name`.

    Raises:
      ValueError: if there is no such task.
    """
    _checks.one_of("tasks", where, name, NAMES)
    return importlib.import_module(_MODULES[name])


def from_config(cfg):
    """The engine `Task`, `Settings` and callbacks of config `cfg`."""
    return module(cfg.train.task).task(cfg)


def loader(meta: dict, ckpt, model):
    """How `load_run` reads a checkpoint of the task named in `meta`."""
    return module(meta.get("task", "supervised"), "checkpoint task").loader(
        meta, ckpt, model
    )


def evaluate(run, split: str, data):
    """`Run.evaluate` for the run's task."""
    return module(run.task, "run task").evaluate(run, split, data)
