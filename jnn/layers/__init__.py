"""Layers and combinators. Every name here returns a `jnn.Layer`."""

from jnn.layers.combinators import (
    concatenate,
    named,
    output_spec,
    parallel,
    residual,
    serial,
)
from jnn.layers.core import (
    activation,
    dense,
    elu,
    flatten,
    gelu,
    identity,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    step,
    tanh,
)
from jnn.layers.dropout import dropout

__all__ = [
    "activation",
    "concatenate",
    "dense",
    "dropout",
    "elu",
    "flatten",
    "gelu",
    "identity",
    "leaky_relu",
    "log_softmax",
    "named",
    "output_spec",
    "parallel",
    "relu",
    "residual",
    "serial",
    "sigmoid",
    "softmax",
    "softplus",
    "step",
    "tanh",
]
