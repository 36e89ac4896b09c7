"""Training: pure steps, the supervised task, and `fit` / `fit_config`.

`fit` trains a model built in Python, `fit_config` what a config describes;
both run through the one engine in `jnn.runs`. Early stopping is a callback:
`jnn.train.early_stopping.callback("val_loss", patience=5)`.
"""

from jnn.runs.callbacks import Callback
from jnn.runs.engine import ResumeOptions, RunResult, Settings
from jnn.train import early_stopping
from jnn.train.fitting import fit, fit_config
from jnn.train.fused import scan_steps
from jnn.train.state import TrainState, create
from jnn.train.step import Batch, make_eval_step, make_train_step

__all__ = [
    "Batch",
    "Callback",
    "ResumeOptions",
    "RunResult",
    "Settings",
    "TrainState",
    "create",
    "early_stopping",
    "fit",
    "fit_config",
    "make_eval_step",
    "make_train_step",
    "scan_steps",
]
