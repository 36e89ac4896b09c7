"""Generative adversarial networks: a generator and a discriminator in one step.

`make_step` builds the jitted update (k discriminator steps, then one generator
step) over a `GANState`; `fit` runs it from a config (`train.task = "gan"`).
"""

from jnn.gan.losses import discriminator_loss, generator_loss, gradient_penalty
from jnn.gan.state import GANState, create
from jnn.gan.step import StepOptions, make_step, make_updates

__all__ = [
    "GANState",
    "StepOptions",
    "create",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "make_step",
    "make_updates",
]
