"""Ready-made models. Each builder returns a plain `jnn.Layer`."""

from jnn.models.build import from_config
from jnn.models.mlp import mlp

__all__ = ["from_config", "mlp"]
