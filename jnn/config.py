"""Run configuration: frozen dataclasses loaded from TOML, with dotted overrides.

The schema lives here; every field is documented in `configs/*.toml` with its
intent. Loading, validation and `--set` overrides are below the dataclasses.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DataConfig:
    name: str = (
        "digits"  # digits | mnist | fashion_mnist | xor | moons | spirals | linear
    )
    dir: str = ""  # directory holding IDX(.gz) files, for mnist / fashion_mnist
    val_fraction: float = 0.1  # share of the non-test data held out for validation
    test_fraction: float = 0.2  # share of all data held out for the final test
    normalize: str = "standardize"  # none | scale | standardize (stats from train)
    num_samples: int = 1000  # size of synthetic sets (ignored by real data sets)
    noise: float = 0.1  # noise level of synthetic sets
    seed: int = 0  # seed of the split and of synthetic data


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "mlp"  # mlp | serial (an explicit list of `layers`)
    hidden: tuple[int, ...] = (128,)  # mlp: widths of the hidden layers
    activation: str = "relu"  # mlp: a name from jnn.activations.NAMES
    w_init: str = "he_normal"  # mlp: a name from jnn.initializers.NAMES
    b_init: str = "zeros"  # mlp: bias initializer name
    dropout: float = 0.0  # mlp: drop_rate after each hidden activation
    layers: tuple[dict[str, Any], ...] = ()  # serial: [{type = "dense", ...}, ...]


@dataclass(frozen=True)
class LossConfig:
    name: str = "sparse_softmax_cross_entropy"  # a name from jnn.losses.NAMES
    l1: float = 0.0  # L1 penalty on weights (not biases)
    l2: float = 0.0  # L2 penalty on weights (not biases)


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"  # sgd | adam | adamw | rmsprop | adagrad
    lr: float = 1e-3  # peak learning rate
    momentum: float = 0.0  # sgd / rmsprop momentum; 0 disables
    nesterov: bool = False  # sgd: Nesterov momentum (needs momentum > 0)
    b1: float = 0.9  # adam / adamw first-moment decay
    b2: float = 0.999  # adam / adamw second-moment decay
    eps: float = 1e-8  # adam / adamw / rmsprop / adagrad denominator epsilon
    decay: float = 0.9  # rmsprop squared-gradient decay
    weight_decay: float = 1e-4  # adamw decoupled weight decay
    clip_norm: float = 0.0  # clip gradients to this global norm; 0 disables
    schedule: str = "constant"  # constant | step | exponential | cosine
    warmup_steps: int = 0  # linear warmup from 0 to lr over this many steps
    decay_steps: int = 1000  # step / exponential: steps per decay by decay_rate
    decay_rate: float = 0.5  # step / exponential: factor per decay_steps
    final_lr_fraction: float = 0.0  # cosine: final lr as a fraction of lr


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0  # seed of init, shuffling and dropout
    epochs: int = 50  # passes over the training split
    batch_size: int = 64  # 1 = stochastic, 0 = full batch, else mini-batch
    ragged: str = "pad"  # last partial batch: pad (masked) | drop
    eval_batch_size: int = 1024  # batch size of the jitted evaluation
    checkpoint_every: int = 0  # epochs between checkpoints; 0 = final only


@dataclass(frozen=True)
class EarlyStoppingConfig:
    enabled: bool = False  # stop when `monitor` stops improving
    monitor: str = "val_loss"  # val_loss | val_accuracy | train_loss | ...
    mode: str = "auto"  # min | max | auto (max for accuracy, else min)
    patience: int = 10  # epochs without improvement before stopping
    min_delta: float = 0.0  # smallest change that counts as improvement
    restore_best: bool = True  # end with the best epoch's params


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
