"""Ready-made models. Each builder returns a plain `jnn.Layer`."""

from jnn.models.build import from_config
from jnn.models.cnn import lenet
from jnn.models.feedforward import mlp
from jnn.models.residual_nets import residual_block, resnet
from jnn.models.sequence import (
    language_model_parts,
    rows_as_sequence,
    sequence_classifier,
    sequence_lm,
)

__all__ = [
    "from_config",
    "language_model_parts",
    "lenet",
    "mlp",
    "residual_block",
    "resnet",
    "rows_as_sequence",
    "sequence_classifier",
    "sequence_lm",
]
