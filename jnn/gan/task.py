"""The GAN task of the run engine (`train.task = "gan"`).

A GAN run is an ordinary engine run: its state is a `GANState`, its step the
k-discriminator-updates-then-one-generator-update of `jnn.gan.step`, and an
"epoch" is one evaluation period of `train.eval_every` generator steps, after
which the quality measures are computed on a fixed noise batch. The engine
gives it everything else (run directory, metrics.jsonl/csv, TensorBoard,
checkpoint cadence and retention, resume, pre-emption, the non-finite
guard). Its own artefacts: `samples.png`, `samples.npz` (the evaluation
noise and the samples it gave) and `curves.png`.
"""

import itertools
import json
import math
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn import config as config_lib
from jnn._types import Layer
from jnn.gan import curves, data, models, png, quality
from jnn.gan.state import GANState, create
from jnn.gan.step import StepOptions, make_step, params_tree
from jnn.runs import loop
from jnn.runs.engine import Settings, Task, settings_of
from jnn.runs.mesh import Placement
from jnn.runs.restore import Loader, Run
from jnn.train import optim, supervised_run

NAME = "gan"
_EVAL_SALT = 0x6A6E6E  # fold_in salt of the fixed evaluation noise


class GanRun(NamedTuple):
    generator: Layer
    discriminator: Layer
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    options: StepOptions
    x_shape: tuple[int, ...]  # one real example's shape, e.g. (8, 8, 1)


def build(cfg, x_shape) -> GanRun:
    """Models, optimizers and step options of `cfg` for examples of `x_shape`.

    Each model's optimizer is built from its own `[optim.generator]` /
    `[optim.discriminator]` section, like any run's `[optim]`, with the
    schedule spanning `train.steps`.
    """
    generator, discriminator = models.from_config(cfg.gan, x_shape)
    options = StepOptions(
        batch_size=cfg.train.batch_size,
        latent_dim=cfg.gan.latent_dim,
        loss=cfg.gan.loss,
        d_steps=cfg.gan.d_steps,
        label_smoothing=cfg.gan.label_smoothing,
        gp_weight=cfg.gan.gp_weight,
        guard_nonfinite=True,  # the engine stops or skips (train.on_nonfinite)
    )
    return GanRun(
        generator,
        discriminator,
        optim.build(cfg.optim.generator, cfg.train.steps),
        optim.build(cfg.optim.discriminator, cfg.train.steps),
        options,
        tuple(x_shape),
    )


def initial_state(run: GanRun, seed: int) -> GANState:
    """A fresh `GANState` for `run`, seeded by `seed`.

    Initialised under one `jit` (same values as eager): eagerly, every
    initializer call compiles on its own, which costs seconds for a DCGAN.
    """
    b = run.options.batch_size

    def init(key):
        return create(
            run.generator,
            run.discriminator,
            run.g_optimizer,
            run.d_optimizer,
            key,
            z_spec=jax.ShapeDtypeStruct((b, run.options.latent_dim), jnp.float32),
            x_spec=jax.ShapeDtypeStruct((b, *run.x_shape), jnp.float32),
        )

    return jax.jit(init)(jax.random.key(seed))


def eval_noise(cfg, n: int | None = None) -> jax.Array:
    """The fixed noise every evaluation of a run uses, (n, latent_dim)."""
    key = jax.random.fold_in(jax.random.key(cfg.train.seed), _EVAL_SALT)
    return jax.random.normal(key, (n or cfg.gan.num_eval_samples, cfg.gan.latent_dim))


class Judge(NamedTuple):
    """Turns generated samples into quality measures for one data set."""

    measure: object  # samples (N, *x_shape) -> dict
    names: tuple[str, ...]  # the keys `measure` returns that curves plot
    info: dict  # written to results.json (classifier accuracy, references)


def judge(cfg, real: data.GanData) -> Judge:
    """Quality measures: mode coverage for the ring, a jnn classifier for images."""
    if real.y is None:
        std, radius = cfg.data.noise, cfg.data.radius

        def measure(s):
            return quality.ring_quality(s, radius=radius, std=std)

        return Judge(measure, ("modes", "high_quality"), {"real": measure(real.x)})
    key = jax.random.fold_in(jax.random.key(cfg.train.seed), _EVAL_SALT + 1)
    probs, accuracy = quality.train_classifier(real.x, real.y, key=key)

    def measure(s):
        return quality.classifier_quality(probs(jnp.asarray(s)))

    noise = np.random.default_rng(0).uniform(-1, 1, (1000, *real.x.shape[1:]))
    info = {
        "classifier_held_out_accuracy": accuracy,
        "real": measure(real.x[:1000]),
        "uniform_noise": measure(noise.astype(np.float32)),
    }
    return Judge(measure, ("confidence", "entropy_ratio"), info)


def _one(batch) -> jax.Array:
    del batch  # a GAN step draws its own batches: each step weighs 1
    return jnp.float32(1.0)


def plan(cfg, device_data: jax.Array) -> loop.Plan:
    """`train.steps` generator steps in periods of `train.eval_every`."""
    steps, every = cfg.train.steps, cfg.train.eval_every

    def num_batches(epoch: int) -> int:
        return min(every, steps - epoch * every)

    def batches(epoch: int, start: int):
        return itertools.repeat(device_data, num_batches(epoch) - start)

    epochs = math.ceil(steps / every)
    return loop.Plan(epochs, num_batches, batches, _one, shared=True)


def task(cfg) -> tuple[Task, Settings, tuple]:
    """The engine task, settings and callbacks of a GAN config."""
    real = data.load(cfg.data)
    placement = Placement.from_config(cfg.mesh)  # each batch split over `data`
    placement.check_batch(cfg.train.batch_size, "train.batch_size")
    run = build(cfg, real.x.shape[1:])
    measure = judge(cfg, real)
    sample = _sampler(run.generator)
    z_eval = eval_noise(cfg)

    def validate(gs: GANState) -> dict:
        return measure.measure(np.asarray(sample(gs.g_params, gs.g_state, z_eval)))

    def finish(gs: GANState, run_dir: Path, log) -> dict:
        samples = np.asarray(sample(gs.g_params, gs.g_state, z_eval))
        _artefacts(cfg, run_dir, np.asarray(z_eval), samples, measure, log)
        return measure.info

    made = Task(
        name=NAME,
        state=initial_state(run, cfg.train.seed),
        step=jax.jit(
            make_step(*run[:4], run.options, placement=placement), donate_argnums=0
        ),
        plan=plan(cfg, placement.replicate(jnp.asarray(real.x))),
        validate=validate,
        test=validate,  # the final quality measures, on the same fixed noise
        config=config_lib.to_dict(cfg),
        config_text=config_lib.to_toml(cfg),
        resolve_config=supervised_run.resolve,
        params_of=params_tree,
        metadata={
            "x_shape": list(run.x_shape),
            "inputs": {"shape": [cfg.gan.latent_dim], "dtype": "float32"},
        },
        finish=finish,
        placement=placement,
        facts={
            "data": f"{len(real.x):,} real examples of "
            + ("x".join(str(n) for n in real.x.shape[1:]) or "scalar")
            + f"; batch {cfg.train.batch_size}, {cfg.train.steps:,} steps "
            f"in periods of {cfg.train.eval_every:,}",
            "config": supervised_run.config_changes(cfg),
        },
    )
    return made, settings_of(cfg.train), ()


def _sampler(generator: Layer):
    def sample(g_params, g_state, z):
        return generator.apply(g_params, g_state, z, train=False)[0]

    return jax.jit(sample)


def _artefacts(cfg, run_dir: Path, z, samples, measure: Judge, log) -> None:
    """samples.png, samples.npz (noise and samples) and curves.png."""
    np.savez(run_dir / "samples.npz", z=z, samples=samples)
    png.write_png(run_dir / "samples.png", sample_picture(cfg, samples))
    records = _history(run_dir)
    try:
        curves.plot_curves(records, run_dir / "curves.png", measure.names)
    except ImportError as error:  # the run itself succeeded: say, don't fail
        log(str(error))


def _history(run_dir: Path) -> list[dict]:
    """The run's epoch records, as metrics.jsonl holds them."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def sample_picture(cfg, samples: np.ndarray) -> np.ndarray:
    """A uint8 picture of samples: a scatter for the ring, else an 8-wide grid.

    The ring's scatter has axes, the true mode centres and a legend when
    matplotlib is installed, else it is `png.scatter_image`'s plain dots.
    """
    if samples.ndim == 2:
        radius = cfg.data.radius
        marks = data.ring_centres(radius)
        try:
            return curves.ring_scatter(samples, marks, 1.5 * radius)
        except ImportError:  # matplotlib is optional: the dependency-free picture
            return png.scatter_image(samples, extent=1.5 * radius, marks=marks)
    return png.image_grid(
        samples[:64], columns=8, scale=4 if samples.shape[1] < 16 else 2
    )


def loader(meta: dict, ckpt, model) -> Loader:
    """A GAN checkpoint loads as its generator: noise in, samples out."""
    if model is not None:
        hint = "drop model=: a GAN run rebuilds its models from its config"
        raise _checks.value_error(
            "load_run", f"no `model` for GAN run '{ckpt}'", "a model", hint
        )
    cfg = config_lib.from_dict(meta["config"], source=f"{ckpt}/manifest.json")
    generator, _ = models.from_config(cfg.gan, tuple(meta["x_shape"]))
    z_spec = jax.ShapeDtypeStruct((1, cfg.gan.latent_dim), jnp.float32)
    params, state = jax.eval_shape(generator.init, jax.random.key(0), z_spec)
    return Loader(cfg, generator, "g_params", "g_state", params, state)


def evaluate(run: Run, split: str, data_pair) -> dict:
    """The quality measures of a loaded GAN's samples for its evaluation noise.

    Raises:
      ValueError: if `split` or `data` is given (a GAN has no splits).
    """
    if split != "test" or data_pair is not None:
        raise _checks.value_error(
            "evaluate",
            "no `split` or `data` for a GAN run",
            f"split={split!r}",
            "a GAN run is judged on its fixed evaluation noise",
        )
    cfg = run.config
    measure = judge(cfg, data.load(cfg.data))
    return measure.measure(np.asarray(run.predict(eval_noise(cfg))))
