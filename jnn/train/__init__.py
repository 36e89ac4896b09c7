"""Training: pure steps, the host loop, `fit`, checkpoints and evaluation."""

from jnn.runs.evaluate import evaluate
from jnn.train.fit import FitResult, fit
from jnn.train.state import TrainState, create
from jnn.train.step import Batch, make_eval_step, make_train_step

__all__ = [
    "Batch",
    "FitResult",
    "TrainState",
    "create",
    "evaluate",
    "fit",
    "make_eval_step",
    "make_train_step",
]
