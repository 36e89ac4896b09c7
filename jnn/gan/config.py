"""The schemas of GAN runs (`train.task = "gan"`): [gan], [train], [data] and
[optim.generator] / [optim.discriminator].

A GAN run reads [data] (the GAN sources below), [gan], [optim.generator],
[optim.discriminator] and [train]; each model's optimizer is a full
`OptimConfig`, like any other run's.
"""

from dataclasses import dataclass, field

from jnn import activations
from jnn.config.loader import (
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Problem,
    Rule,
    Tagged,
    setting,
)
from jnn.data.config import NUM_SAMPLES
from jnn.gan import losses
from jnn.gan.models import ARCHITECTURES
from jnn.train import numerics
from jnn.train.optim import OptimConfig

_SMOOTHED = ("non_saturating", "minimax")  # the losses with real targets


@dataclass(frozen=True)
class GanConfig:
    """[gan]: the generator / discriminator pair and its objective."""

    architecture: str = setting("mlp", choices=ARCHITECTURES)  # mlp | dcgan
    latent_dim: int = setting(16, rule=POSITIVE)  # size of the noise vector z
    g_hidden: tuple[int, ...] = setting(  # mlp: generator hidden widths
        (128, 128), each=POSITIVE, read_if=("architecture", ("mlp",))
    )
    d_hidden: tuple[int, ...] = setting(  # mlp: discriminator hidden widths
        (128, 128), each=POSITIVE, read_if=("architecture", ("mlp",))
    )
    g_channels: tuple[int, ...] = setting(  # dcgan: channels per 2x upsampling
        (64, 32), each=POSITIVE, read_if=("architecture", ("dcgan",))
    )
    d_channels: tuple[int, ...] = setting(  # dcgan: channels per stride-2 conv
        (32, 64), each=POSITIVE, read_if=("architecture", ("dcgan",))
    )
    g_activation: str = setting("relu", choices=activations.NAMES)
    d_activation: str = setting("leaky_relu", choices=activations.NAMES)
    loss: str = setting("non_saturating", choices=losses.NAMES)
    d_steps: int = setting(1, rule=POSITIVE)  # D updates per G update
    label_smoothing: float = setting(  # one-sided: real targets become 1 - this
        0.0,
        rule=Rule("in [0, 0.5)", lambda v: 0 <= v < 0.5),
        read_if=("loss", _SMOOTHED),
    )
    gp_weight: float = setting(  # wasserstein: gradient-penalty weight
        10.0, rule=NON_NEGATIVE, read_if=("loss", ("wasserstein",))
    )
    num_eval_samples: int = setting(1000, rule=POSITIVE)  # samples per evaluation


def _gan_adam() -> OptimConfig:
    return OptimConfig(name="adam", lr=2e-4, b1=0.5, b2=0.999)  # the DCGAN choice


@dataclass(frozen=True)
class GanOptimConfig:
    """[optim] of a GAN run: one full optimizer config per model."""

    generator: OptimConfig = field(default_factory=_gan_adam)
    discriminator: OptimConfig = field(default_factory=_gan_adam)


@dataclass(frozen=True)
class GanTrainConfig:
    """[train] of a GAN run (`task = "gan"`)."""

    task: str = "gan"  # supervised | gan: picks the sections a config has
    seed: int = setting(0, rule=SEED)  # init, noise and batch-sampling keys
    batch_size: int = setting(64, rule=POSITIVE)  # real and fake samples per step
    steps: int = setting(2000, rule=POSITIVE)  # generator updates (the schedules')
    eval_every: int = setting(250, rule=POSITIVE)  # G steps between evaluations
    fuse_steps: int = setting(0, rule=NON_NEGATIVE)  # per dispatch; 0 = auto
    checkpoint_every_steps: int = setting(0, rule=NON_NEGATIVE)  # 0 = final only
    keep_checkpoints: int = setting(0, rule=NON_NEGATIVE)  # newest kept; 0 = all
    on_nonfinite: str = setting("stop", choices=numerics.MODES)  # NaN/Inf: stop | skip
    tensorboard: bool = False  # also write scalars to RUN/tensorboard/
    tensorboard_every_steps: int = setting(  # per-step train loss every N; 0 = off
        0, rule=NON_NEGATIVE, read_if=("tensorboard", (True,))
    )
    # JAX's persistent compilation cache (`jnn.runs.compile_cache`): a
    # directory, shared by runs; "" = off.
    compilation_cache: str = ""


@dataclass(frozen=True)
class RingConfig:
    """8 Gaussians evenly spaced on a circle: the mode-collapse test."""

    name: str = "ring"
    num_samples: int = setting(1000, rule=NUM_SAMPLES)  # real points drawn once
    noise: float = setting(0.1, rule=POSITIVE)  # std of each Gaussian
    seed: int = setting(0, rule=SEED)  # seed of the real points
    radius: float = setting(2.0, rule=POSITIVE)  # radius of the mode centres


@dataclass(frozen=True)
class GanDigitsConfig:
    """All 1,797 bundled 8x8 digits, scaled to [-1, 1]."""

    name: str = "digits"


@dataclass(frozen=True)
class GanMnistConfig:
    """The 60k MNIST / Fashion-MNIST train images, scaled to [-1, 1]."""

    name: str = "mnist"  # mnist | fashion_mnist
    dir: str = ""  # directory holding the IDX(.gz) files


# The data sources of GAN runs: `data.name` -> its schema.
SOURCES = {
    "ring": RingConfig,
    "digits": GanDigitsConfig,
    "mnist": GanMnistConfig,
    "fashion_mnist": GanMnistConfig,
}
DATA = Tagged("name", SOURCES, "digits", "data sources")
GanDataConfig = RingConfig | GanDigitsConfig | GanMnistConfig

# Settings of older GAN configs and where they live now, for error hints.
MOVED = {
    "gan.steps": "`train.steps`",
    "gan.eval_every": "`train.eval_every`",
    "gan.checkpoint_every": "`train.checkpoint_every_steps`",
    "gan.ring_radius": "`data.radius`",
    "gan.lr_schedule": "`optim.generator.schedule` and `optim.discriminator.schedule`",
    "train.epochs": "`train.steps`",
    **{f"gan.g_{k}": f"`optim.generator.{k}`" for k in ("lr", "b1", "b2")},
    **{f"gan.d_{k}": f"`optim.discriminator.{k}`" for k in ("lr", "b1", "b2")},
}


def dcgan_needs_images(cfg, path: str = "") -> Problem | None:
    """ "dcgan" generates images: its data cannot be the 2-D ring."""
    del path  # a relation of the whole config
    if cfg.gan.architecture != "dcgan" or cfg.data.name != "ring":
        return None
    return Problem(
        ("gan.architecture", "data.name"),
        "image data for `gan.architecture` 'dcgan'",
        "data 'ring'",
        "use gan.architecture = 'mlp'",
    )


RELATIONS = (dcgan_needs_images,)  # the GAN task's relations across sections
