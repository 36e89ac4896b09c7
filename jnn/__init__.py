"""jnn: a functional neural-network toolkit for JAX.

Models are `Layer(init, apply)` pairs of pure functions over parameter pytrees.
"""

from jnn import (
    activations,
    config,
    data,
    export,
    initializers,
    interchange,
    layers,
    losses,
    metrics,
    models,
    penalties,
    train,
)
from jnn._checks import JnnError, JnnTypeError, JnnValueError
from jnn._types import Layer
from jnn._version import __version__ as __version__  # re-export
from jnn.diagnostics.model_summary import summary
from jnn.models import perceptron
from jnn.params import check_params
from jnn.runs.restore import Run, load_run

__all__ = [
    "JnnError",
    "JnnTypeError",
    "JnnValueError",
    "Layer",
    "Run",
    "activations",
    "check_params",
    "config",
    "data",
    "export",
    "initializers",
    "interchange",
    "layers",
    "load_run",
    "losses",
    "metrics",
    "models",
    "penalties",
    "perceptron",
    "summary",
    "train",
]
