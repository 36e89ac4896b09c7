"""The [model] schemas: one small dataclass per model kind.

[model] is tagged by `kind`; each kind holds exactly the fields its builder in
`jnn.models.build` reads, so a field of another kind is refused, naming the
kinds that read it.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

from jnn import activations, initializers
from jnn.config.loader import (
    FRACTION,
    NON_EMPTY,
    NON_NEGATIVE,
    POSITIVE,
    Problem,
    Rule,
    Tagged,
    setting,
)
from jnn.models.sequence import CELLS
from jnn.models.transformers import POOLS, POSITIONS


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


def heads_divide_features(cfg, path: str = "model") -> Problem | None:
    """Each head gets features / num_heads (even, for rotary positions)."""
    size, odd = divmod(cfg.features, cfg.num_heads)
    rope = cfg.positions == "rope"
    if not odd and not (rope and size % 2):
        return None
    features, heads = f"{path}.features", f"{path}.num_heads"
    want = "an even number" if rope else "a whole number"
    return Problem(
        (features, heads),
        f"`{features}` / `{heads}` to be {want} (the head size)",
        f"{cfg.features} / {cfg.num_heads}",
        f"e.g. {features} = {cfg.num_heads * (2 if rope else 1) * max(size, 1)}",
    )


def _features():
    return setting(128, rule=POSITIVE)  # token width F (the residual stream)


def _blocks():
    return setting(2, rule=POSITIVE)  # transformer blocks


def _num_heads():
    return setting(4, rule=POSITIVE)  # attention heads; must divide features


def _mlp_features():
    return setting(0, rule=NON_NEGATIVE)  # hidden width of each MLP; 0 = 4 * F


def _positions():
    return setting("learned", choices=POSITIONS)  # learned | sinusoidal | rope


def _block_dropout():
    return setting(0.0, rule=FRACTION)  # drop_rate inside the blocks


@dataclass(frozen=True)
class TransformerLmConfig:
    """A decoder-only next-token model (`jnn.models.transformer_lm`)."""

    kind: str = "transformer_lm"
    features: int = _features()
    blocks: int = _blocks()
    num_heads: int = _num_heads()
    mlp_features: int = _mlp_features()
    max_len: int = setting(256, rule=POSITIVE)  # longest sequence read or sampled
    positions: str = _positions()  # token order
    dropout: float = _block_dropout()

    relations: ClassVar = (heads_divide_features,)


_PAIR = Rule("to be [P_H, P_W]", lambda v: len(v) == 2, "e.g. patch_size = [2, 2]")


@dataclass(frozen=True)
class VitConfig:
    """A vision transformer over image patches (`jnn.models.vit`)."""

    kind: str = "vit"
    patch_size: tuple[int, ...] = setting((2, 2), rule=_PAIR, each=POSITIVE)
    features: int = _features()
    blocks: int = _blocks()
    num_heads: int = _num_heads()
    mlp_features: int = _mlp_features()
    positions: str = _positions()  # patch order (row-major token index)
    pool: str = setting("class_token", choices=POOLS)  # what the head reads
    dropout: float = _block_dropout()

    relations: ClassVar = (heads_divide_features,)


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
    "transformer_lm": TransformerLmConfig,
    "vit": VitConfig,
    "serial": SerialConfig,
}
# The kinds that read token ids and predict the next token at every step.
TOKEN_KINDS = ("rnn_lm", "transformer_lm")
SCHEMA = Tagged("kind", KINDS, "mlp", "model kinds")

ModelConfig = (
    MlpConfig
    | CnnConfig
    | ResnetConfig
    | RnnConfig
    | RnnLmConfig
    | TransformerLmConfig
    | VitConfig
    | SerialConfig
)
