"""`fit(cfg, workdir)`: train a GAN from a config, like `jnn.train.fit` does.

The run directory gets `config.toml`, `metrics.jsonl` (one line per
evaluation: mean losses since the last one and the quality measures),
`checkpoints/ckpt_<step>/`, `results.json`, `samples.png` and `curves.png`.
"""

import json
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn import config as config_lib
from jnn._types import Layer
from jnn.config import Config, OptimConfig
from jnn.gan import curves, data, models, png, quality
from jnn.gan.state import GANState, create
from jnn.gan.step import StepOptions, make_step
from jnn.runs import checkpoint, lock
from jnn.runs import resume as resume_lib
from jnn.runs.signals import Preempted
from jnn.train import optim
from jnn.train.fit import ResumeOptions

_EVAL_SALT = 0x6A6E6E  # fold_in salt of the fixed evaluation noise

# The step metrics are summed on the device in one dispatch per step, not one
# eager add per metric (that would cost more than a small GAN's step).
_add = jax.jit(lambda totals, logs: jax.tree.map(jnp.add, totals, logs))


class GanRun(NamedTuple):
    generator: Layer
    discriminator: Layer
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    options: StepOptions
    x_shape: tuple[int, ...]  # one real example's shape, e.g. (8, 8, 1)
    sample: object  # jitted (g_params, g_state, z) -> samples, eval mode


class GanFitResult(NamedTuple):
    gan_state: GANState
    history: list[dict]  # one record per evaluation
    final: dict  # the last record
    run_dir: Path | None


def build(cfg: Config, x_shape) -> GanRun:
    """Models, optimizers and step options of `cfg` for examples of `x_shape`."""
    gan = cfg.gan
    generator, discriminator = models.from_config(gan, x_shape)

    def adam(lr, b1, b2):
        schedule = gan.lr_schedule
        adam_cfg = OptimConfig(name="adam", lr=lr, b1=b1, b2=b2, schedule=schedule)
        return optim.build(adam_cfg, gan.steps)

    options = StepOptions(
        batch_size=cfg.train.batch_size,
        latent_dim=gan.latent_dim,
        loss=gan.loss,
        d_steps=gan.d_steps,
        label_smoothing=gan.label_smoothing,
        gp_weight=gan.gp_weight,
    )

    def sample(g_params, g_state, z):
        return generator.apply(g_params, g_state, z, train=False)[0]

    return GanRun(
        generator,
        discriminator,
        adam(gan.g_lr, gan.g_b1, gan.g_b2),
        adam(gan.d_lr, gan.d_b1, gan.d_b2),
        options,
        tuple(x_shape),
        jax.jit(sample),
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


def generate(run: GanRun, gs: GANState, z: jax.Array) -> np.ndarray:
    """Generator samples for noise `z` (N, latent_dim), in eval mode, on host."""
    return np.asarray(run.sample(gs.g_params, gs.g_state, z))


def eval_noise(cfg: Config, n: int | None = None) -> jax.Array:
    """The fixed noise every evaluation of a run uses, (n, latent_dim)."""
    key = jax.random.fold_in(jax.random.key(cfg.train.seed), _EVAL_SALT)
    return jax.random.normal(key, (n or cfg.gan.num_eval_samples, cfg.gan.latent_dim))


class _Judge(NamedTuple):
    """Turns generated samples into quality measures for one data set."""

    measure: object  # samples (N, *x_shape) -> dict
    names: tuple[str, ...]  # the keys `measure` returns that curves plot
    info: dict  # written to results.json (classifier accuracy, references)


def _judge(cfg: Config, real: data.GanData) -> _Judge:
    if real.y is None:
        std, radius = cfg.data.noise, cfg.gan.ring_radius

        def measure(s):
            return quality.ring_quality(s, radius=radius, std=std)

        return _Judge(measure, ("modes", "high_quality"), {"real": measure(real.x)})
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
    return _Judge(measure, ("confidence", "entropy_ratio"), info)


def fit(
    cfg: Config,
    workdir: str | Path | None = None,
    *,
    log=print,
    resume: ResumeOptions | None = None,
    stop=None,
) -> GanFitResult:
    """Train the GAN described by `cfg` (`train.task = "gan"`).

    Resumable like `jnn.train.fit`: a run directory with checkpoints is
    continued from its newest one (the `GANState` holds both models, both
    optimizers, the step and the key; data and noise are drawn from the key
    inside the step), bitwise as if never interrupted.

    Args:
      cfg: A validated `jnn.config.Config`; uses [data], [train] (seed,
        batch_size) and [gan].
      workdir: Run directory, created if needed; None writes nothing.
      log: Called with one progress line per evaluation (None silences).
      resume: `jnn.train.fit.ResumeOptions` (mode auto | required | never).
      stop: Optional `stop() -> signum | None`, polled after every step: a
        signal commits a checkpoint at that step and raises `Preempted`.

    Raises:
      Preempted: after a signal reported by `stop`, once the checkpoint is
        committed (without `workdir`: at once, with no checkpoint).
      ValueError / FileNotFoundError: as `jnn.train.fit` for locks, config
        changes and resume modes.
    """
    log = log or (lambda line: None)
    resume = resume or ResumeOptions()
    _checks.one_of("fit", "resume.mode", resume.mode, resume_lib.MODES)
    if workdir is None:
        return _fit(cfg, None, log, resume, stop)
    held = lock.acquire(workdir, break_stale=resume.break_lock)
    try:
        return _fit(cfg, Path(workdir), log, resume, stop)
    finally:
        lock.release(held)


class _Position(NamedTuple):
    """What the host loop adds to the `GANState`: records and running sums."""

    history: list  # one record per evaluation so far
    totals: dict | None  # device sums of the step metrics since the last one
    count: int  # steps behind `totals`


def _fit(cfg: Config, workdir: Path | None, log, resume, stop) -> GanFitResult:
    start = time.perf_counter()
    real = data.load(cfg.data, cfg.gan)
    run = build(cfg, real.x.shape[1:])
    judge = _judge(cfg, real)
    gs, pos = initial_state(run, cfg.train.seed), _Position([], None, 0)
    writer = _RunWriter(workdir, cfg, run) if workdir is not None else None
    if writer:
        gs, pos = writer.resume(gs, resume, log)
    models = (run.generator, run.discriminator, run.g_optimizer, run.d_optimizer)
    step = jax.jit(make_step(*models, run.options), donate_argnums=0)
    device_data, z_eval = jnp.asarray(real.x), eval_noise(cfg)
    history, totals, count = pos
    for t in range(int(gs.step) + 1, cfg.gan.steps + 1):
        gs, logs = step(gs, device_data)
        totals = logs if totals is None else _add(totals, logs)
        count += 1
        if t % cfg.gan.eval_every == 0 or t == cfg.gan.steps:
            record = {"step": t, **{k: float(v) / count for k, v in totals.items()}}
            record |= judge.measure(generate(run, gs, z_eval))
            record["time_s"] = round(time.perf_counter() - start, 3)
            history.append(record)
            log(_format(record, cfg.gan.steps))
            totals, count = None, 0
            if writer:
                writer.record(record, gs, cfg.gan.checkpoint_every, history)
        signum = stop() if stop else None
        if signum:
            pos = _Position(history, totals, count)
            path = writer.checkpoint(gs, pos) if writer else None
            raise Preempted(signum, t, path)
    samples = generate(run, gs, z_eval)
    if writer:
        writer.final(gs, history, judge, samples, time.perf_counter() - start, log)
    return GanFitResult(gs, history, history[-1], writer and writer.dir)


def _format(record: dict, steps: int) -> str:
    parts = [f"step {record['step']:>5}/{steps}"]
    parts += [f"{k} {v:.4f}" for k, v in record.items() if k not in ("step", "time_s")]
    return "  ".join([*parts, f"{record['time_s']:.1f}s"])


class _RunWriter:
    """Writes a GAN run directory: config, metrics, checkpoints, PNGs."""

    def __init__(self, workdir: Path, cfg: Config, run: GanRun):
        self.dir = Path(workdir)
        self.cfg, self.run = cfg, run
        self.checkpoints = self.dir / "checkpoints"
        checkpoint.clean_temporaries(self.checkpoints)  # we hold the lock
        self.metrics = self.dir / "metrics.jsonl"

    def resume(self, fresh: GANState, options: ResumeOptions, log):
        """The state and position to start from; rewrites config and metrics."""
        gs, pos = fresh, _Position([], None, 0)
        found = resume_lib.find(self.checkpoints, options.mode)
        if found is None and options.mode == "auto":
            log(f"no checkpoint in {self.checkpoints}: starting a fresh run")
        if found is not None:
            gs, pos = self._restore(found, fresh, options, log)
        config_lib.save(self.cfg, self.dir / "config.toml")
        self.metrics.write_text("".join(json.dumps(r) + "\n" for r in pos.history))
        return gs, pos

    def _restore(self, found: Path, fresh: GANState, options: ResumeOptions, log):
        _, meta = checkpoint.restore_metadata(found)
        for line in resume_lib.check_config(
            meta.get("config", {}), self.cfg, found, allow=options.allow_config_change
        ):
            log(f"config changed since the checkpoint (allowed): {line}")
        resume_lib.check_position(meta, found, "jnn.gan.fit")
        tree, meta = checkpoint.restore(found, fresh._asdict())
        saved = meta["position"]
        totals = resume_lib.sums_from_json(saved["totals"])
        pos = _Position(list(saved["history"]), totals, saved["count"])
        log(f"resuming from {found} at step {int(tree['step'])}")
        return GANState(**tree), pos

    def record(self, record: dict, gs: GANState, every: int, history) -> None:
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if every and record["step"] % every == 0:
            self.checkpoint(gs, _Position(history, None, 0))

    def checkpoint(self, gs: GANState, pos: _Position, extra=None) -> Path:
        totals = resume_lib.sums_to_json(pos.totals)
        position = {"history": pos.history, "totals": totals, "count": pos.count}
        meta = {
            "config": config_lib.to_dict(self.cfg),
            "task": "gan",
            "x_shape": list(self.run.x_shape),
            "position": position,
            **(extra or {}),
        }
        return checkpoint.save(
            self.checkpoints, int(gs.step), gs._asdict(), meta, overwrite=True
        )

    def final(self, gs, history, judge: _Judge, samples, seconds: float, log):
        summary = {"final": history[-1], "steps": int(gs.step), **judge.info}
        summary["seconds"] = round(seconds, 3)
        pos = _Position(history, None, 0)
        path = self.checkpoint(gs, pos, {"final": True})
        summary["checkpoint"] = str(path.relative_to(self.dir))
        (self.dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
        png.write_png(self.dir / "samples.png", sample_picture(self.cfg, samples))
        try:
            curves.plot_curves(history, self.dir / "curves.png", judge.names)
        except ImportError as error:  # the run itself succeeded: say, don't fail
            log(str(error))


def sample_picture(cfg: Config, samples: np.ndarray) -> np.ndarray:
    """A uint8 picture of samples: a scatter for the ring, else an 8-wide grid."""
    if samples.ndim == 2:
        radius = cfg.gan.ring_radius
        marks = data.ring_centres(radius)
        return png.scatter_image(samples, extent=1.5 * radius, marks=marks)
    return png.image_grid(
        samples[:64], columns=8, scale=4 if samples.shape[1] < 16 else 2
    )
