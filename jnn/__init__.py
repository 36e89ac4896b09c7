"""jnn: a functional neural-network toolkit for JAX.

Models are `Layer(init, apply)` pairs of pure functions over parameter pytrees.
"""

from jnn import (
    activations,
    config,
    data,
    initializers,
    layers,
    losses,
    metrics,
    models,
    penalties,
    train,
)
from jnn._checks import JnnError, JnnTypeError, JnnValueError
from jnn._types import Layer
from jnn.diagnostics.model_summary import summary
from jnn.models import perceptron
from jnn.params import check_params

__version__ = "0.1.0"

__all__ = [
    "JnnError",
    "JnnTypeError",
    "JnnValueError",
    "Layer",
    "activations",
    "check_params",
    "config",
    "data",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "penalties",
    "perceptron",
    "summary",
    "train",
]
