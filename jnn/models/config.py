"""The [model] schemas: one small dataclass per model kind.

[model] is tagged by `kind`; each kind holds exactly the fields its builder in
`jnn.models.build` reads, so a field of another kind is refused, naming the
kinds that read it.
"""

from dataclasses import dataclass
from typing import Any

from jnn import activations, initializers
from jnn.config.loader import FRACTION, NON_EMPTY, POSITIVE, Rule, Tagged, setting
from jnn.models.sequence import CELLS


def _hidden(default: tuple[int, ...]):
    return setting(default, each=POSITIVE)  # widths of the hidden layers


def _activation():
    return setting("relu", choices=activations.NAMES)  # hidden activation


def _w_init():
    return setting("he_normal", choices=initializers.NAMES)  # weight initializer


def _dropout():
    return setting(0.0, rule=FRACTION)  # drop_rate of the dense layers


def _channels():
    return setting((32, 64), each=POSITIVE)  # channels of each conv stage


def _cell():
    return setting("lstm", choices=tuple(CELLS))  # the recurrent cell


@dataclass(frozen=True)
class MlpConfig:
    """A dense stack (`jnn.models.mlp`); inputs are flattened."""

    kind: str = "mlp"
    hidden: tuple[int, ...] = _hidden((128,))
    activation: str = _activation()
    w_init: str = _w_init()
    b_init: str = setting("zeros", choices=initializers.NAMES)  # bias initializer
    dropout: float = _dropout()  # after each hidden activation


@dataclass(frozen=True)
class CnnConfig:
    """LeNet-style conv stages, then a dense head (`jnn.models.lenet`)."""

    kind: str = "cnn"
    channels: tuple[int, ...] = _channels()
    kernel_size: tuple[int, ...] = setting((3, 3), each=POSITIVE)  # length = rank
    hidden: tuple[int, ...] = _hidden((128,))  # the dense head
    activation: str = _activation()
    w_init: str = _w_init()
    dropout: float = _dropout()  # before each dense layer of the head
    batch_norm: bool = False  # batch norm after each convolution


@dataclass(frozen=True)
class ResnetConfig:
    """A small ResNet (`jnn.models.resnet`)."""

    kind: str = "resnet"
    channels: tuple[int, ...] = _channels()  # stage widths
    blocks_per_stage: int = setting(2, rule=POSITIVE)  # residual blocks per stage
    activation: str = _activation()


@dataclass(frozen=True)
class RnnConfig:
    """Stacked recurrent layers over rows or time, then dense."""

    kind: str = "rnn"
    cell: str = _cell()
    hidden: tuple[int, ...] = _hidden((128,))  # widths of the stacked layers
    bidirectional: bool = False  # run each layer both ways and concatenate


@dataclass(frozen=True)
class RnnLmConfig:
    """A next-token model (`jnn.models.sequence_lm`); it never reads the future."""

    kind: str = "rnn_lm"
    cell: str = _cell()
    hidden: tuple[int, ...] = _hidden((128,))  # widths of the stacked layers
    embed_features: int = setting(32, rule=POSITIVE)  # token embedding width


_LAYERS = Rule(
    NON_EMPTY.text, NON_EMPTY.ok, 'e.g. layers = [{type = "dense", features = 1}]'
)


@dataclass(frozen=True)
class SerialConfig:
    """Layers in order: `{type = "dense", features = 10}`, ... (`jnn.layers`)."""

    kind: str = "serial"
    layers: tuple[dict[str, Any], ...] = setting((), rule=_LAYERS)


# The model kinds: `model.kind` -> its schema (`jnn.models.build` builds each).
KINDS = {
    "mlp": MlpConfig,
    "cnn": CnnConfig,
    "resnet": ResnetConfig,
    "rnn": RnnConfig,
    "rnn_lm": RnnLmConfig,
    "serial": SerialConfig,
}
SCHEMA = Tagged("kind", KINDS, "mlp", "model kinds")

ModelConfig = (
    MlpConfig | CnnConfig | ResnetConfig | RnnConfig | RnnLmConfig | SerialConfig
)
