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
from jnn.models.transformers import (
    class_token,
    patches,
    transformer_lm,
    transformer_lm_parts,
    vit,
)

__all__ = [
    "class_token",
    "from_config",
    "language_model_parts",
    "lenet",
    "mlp",
    "patches",
    "residual_block",
    "resnet",
    "rows_as_sequence",
    "sequence_classifier",
    "sequence_lm",
    "transformer_lm",
    "transformer_lm_parts",
    "vit",
]
