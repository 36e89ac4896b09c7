"""Ready-made models. Each builder returns a plain `jnn.Layer`."""

from jnn.models.build import from_config
from jnn.models.cnn import lenet
from jnn.models.mlp import mlp
from jnn.models.resnet import residual_block, resnet

__all__ = ["from_config", "lenet", "mlp", "residual_block", "resnet"]
