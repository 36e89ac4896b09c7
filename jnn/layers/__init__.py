"""Layers and combinators: every constructor here returns a `jnn.Layer`.

A few names are plain functions beside them: `dot_product_attention` and
`apply_rope` (what attention computes), `unroll` (a cell over time) and
`output_spec` (a layer's output shape without running it).
"""

from jnn.layers.attention import (
    apply_rope,
    dot_product_attention,
    multi_head_attention,
)
from jnn.layers.cells import Cell, gru_cell, lstm_cell, simple_rnn_cell
from jnn.layers.combinators import (
    concatenate,
    named,
    output_spec,
    parallel,
    residual,
    serial,
)
from jnn.layers.convolution import conv, conv_transpose
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
from jnn.layers.dropouts import dropout, spatial_dropout
from jnn.layers.embed import embedding
from jnn.layers.norm import batch_norm, group_norm, layer_norm
from jnn.layers.pooling import avg_pool, global_avg_pool, global_max_pool, max_pool
from jnn.layers.positions import learned_positions, sinusoidal_positions
from jnn.layers.recurrent import bidirectional, rnn, unroll
from jnn.layers.transformer import transformer_block

__all__ = [
    "Cell",
    "activation",
    "apply_rope",
    "avg_pool",
    "batch_norm",
    "bidirectional",
    "concatenate",
    "conv",
    "conv_transpose",
    "dense",
    "dot_product_attention",
    "dropout",
    "elu",
    "embedding",
    "flatten",
    "gelu",
    "global_avg_pool",
    "global_max_pool",
    "group_norm",
    "gru_cell",
    "identity",
    "layer_norm",
    "leaky_relu",
    "learned_positions",
    "log_softmax",
    "lstm_cell",
    "max_pool",
    "multi_head_attention",
    "named",
    "output_spec",
    "parallel",
    "relu",
    "residual",
    "rnn",
    "serial",
    "sigmoid",
    "simple_rnn_cell",
    "sinusoidal_positions",
    "softmax",
    "softplus",
    "spatial_dropout",
    "step",
    "tanh",
    "transformer_block",
    "unroll",
]
