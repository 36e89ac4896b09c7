"""A LeNet-style convolutional classifier builder."""

from collections.abc import Sequence

from jnn import _checks, initializers
from jnn._types import Layer
from jnn.layers import (
    activation,
    batch_norm,
    conv,
    dense,
    dropout,
    flatten,
    max_pool,
    named,
)


def lenet(
    out_features: int,
    *,
    channels: Sequence[int] = (32, 64),
    hidden: Sequence[int] = (128,),
    kernel_size: Sequence[int] = (3, 3),
    act: str = "relu",
    w_init: str = "he_normal",
    drop_rate: float = 0.0,
    use_batch_norm: bool = False,
) -> Layer:
    """Build [conv -> (batch norm) -> act -> 2x max-pool] per channel count -> MLP.

    Convolutions use "SAME" padding, so each stage halves H and W only through
    its pooling; the head flattens and applies dense layers with dropout.

    Args:
      out_features: Number of classes (outputs of the last dense layer).
      channels: Output channels of each conv stage.
      hidden: Widths of the dense layers of the head.
      kernel_size: Convolution window; its length is the spatial rank.
      act: Activation name from `jnn.activations.NAMES`.
      w_init: Initializer name for conv and dense weights.
      drop_rate: Dropout before each dense layer; 0 disables it.
      use_batch_norm: Insert batch norm after each convolution.

    Shapes:
      x: (B, *spatial, C)  ->  y: (B, out_features)

    Params:
      {"conv_0": {"weight", "bias"}, ..., "dense_0": ..., "output": ...}

    State:
      batch-norm running statistics under "norm_<i>" when enabled

    Raises:
      ValueError: for non-positive widths or a bad `drop_rate`.
    """
    _checks.probability("lenet", "drop_rate", drop_rate)
    w = initializers.get(w_init)
    window = (2,) * len(kernel_size)
    layers = {}
    for i, c in enumerate(channels):
        layers[f"conv_{i}"] = conv(c, tuple(kernel_size), w_init=w)
        if use_batch_norm:
            layers[f"norm_{i}"] = batch_norm()
        layers[f"act_{i}"] = activation(act)
        layers[f"pool_{i}"] = max_pool(window)
    layers["flatten"] = flatten()
    for i, width in enumerate(hidden):
        layers |= _dropout(f"dropout_{i}", drop_rate)
        layers[f"dense_{i}"] = dense(width, w_init=w)
        layers[f"dense_act_{i}"] = activation(act)
    layers |= _dropout("dropout_out", drop_rate)
    layers["output"] = dense(out_features, w_init=w)
    return named(**layers)


def _dropout(name: str, drop_rate: float) -> dict[str, Layer]:
    return {name: dropout(drop_rate)} if drop_rate > 0 else {}
