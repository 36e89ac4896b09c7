"""Residual networks for small images: a basic block and a small ResNet."""

from collections.abc import Sequence

from jnn import _checks, initializers
from jnn._types import Layer
from jnn.layers import (
    activation,
    batch_norm,
    conv,
    dense,
    global_avg_pool,
    named,
    residual,
)


def residual_block(
    features: int, *, stride: int = 1, project: bool = False, act: str = "relu"
) -> Layer:
    """Build conv-BN-act-conv-BN plus a skip connection, then the activation.

    The skip is the identity when shapes match; with `project=True` (needed when
    `stride` > 1 or the channel count changes) it is a 1x1 conv with `stride`
    followed by batch norm, the projection shortcut of He et al. (2016).

    Args:
      features: Output channels.
      stride: Stride of the first conv (2 halves H and W).
      project: Use a projection shortcut instead of the identity.
      act: Activation name.

    Shapes:
      x: (B, H, W, C)  ->  y: (B, ceil(H / stride), ceil(W / stride), features)

    Params:
      {"add": {"body": {...}, "shortcut": {...}}, "act": {}}

    State:
      batch-norm running statistics of the body (and the projection)

    Raises:
      ValueError: if `features` or `stride` is not > 0.
    """
    _checks.positive_int("residual_block", "features", features)
    _checks.positive_int("residual_block", "stride", stride)
    he = initializers.he_normal()
    body = named(
        conv_0=conv(features, (3, 3), stride=stride, use_bias=False, w_init=he),
        norm_0=batch_norm(),
        act_0=activation(act),
        conv_1=conv(features, (3, 3), use_bias=False, w_init=he),
        norm_1=batch_norm(),
    )
    shortcut = None
    if project:
        shortcut = named(
            conv=conv(features, (1, 1), stride=stride, use_bias=False, w_init=he),
            norm=batch_norm(),
        )
    return named(add=residual(body, shortcut), act=activation(act))


def resnet(
    out_features: int,
    *,
    channels: Sequence[int] = (32, 64),
    blocks_per_stage: int = 2,
    act: str = "relu",
) -> Layer:
    """Build a small ResNet: stem conv -> stages of residual blocks -> pool -> dense.

    Stage `i` has `blocks_per_stage` blocks of `channels[i]` features; every
    stage after the first starts with a stride-2 block with a projection.

    Shapes:
      x: (B, H, W, C)  ->  y: (B, out_features)

    Params:
      {"stem": ..., "stem_norm": ..., "stage_0_block_0": ..., "output": ...}

    State:
      batch-norm running statistics

    Raises:
      ValueError: if `blocks_per_stage` is not > 0 or `channels` is empty.
    """
    _checks.positive_int("resnet", "blocks_per_stage", blocks_per_stage)
    if not channels:
        raise _checks.value_error("resnet", "at least one stage in `channels`", "()")
    layers = {
        "stem": conv(
            channels[0], (3, 3), use_bias=False, w_init=initializers.he_normal()
        ),
        "stem_norm": batch_norm(),
        "stem_act": activation(act),
    }
    for s, c in enumerate(channels):
        for b in range(blocks_per_stage):
            down = s > 0 and b == 0
            layers[f"stage_{s}_block_{b}"] = residual_block(
                c, stride=2 if down else 1, project=down, act=act
            )
    layers["pool"] = global_avg_pool()
    layers["output"] = dense(out_features)
    return named(**layers)
