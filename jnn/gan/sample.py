"""Sample a trained GAN: `python -m jnn.gan.sample RUN_DIR [--interpolate]`.

Loads the latest (or a given) checkpoint of a GAN run with `jnn.load_run`
(the generator, rebuilt from the config saved in it), and writes a PNG: a grid of samples for images
or a scatter plot for the ring. `--interpolate` walks the latent space in
straight lines between random pairs of noise vectors, one pair per row.
"""

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.cli import add_debug_argument, guarded
from jnn.gan import png, task
from jnn.runs.restore import load_run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Write a PNG of GAN samples.")
    parser.add_argument("path", help="a GAN run directory or one of its ckpt_* folders")
    parser.add_argument("--out", default=None, help="PNG path (default: in the run)")
    parser.add_argument("--num", type=int, default=64, help="samples (grid cells)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise")
    parser.add_argument(
        "--interpolate", action="store_true", help="latent interpolation rows"
    )
    parser.add_argument("--steps", type=int, default=8, help="images per row")
    add_debug_argument(parser)
    return parser


def interpolation_noise(key, rows: int, steps: int, latent_dim: int) -> jax.Array:
    """Noise (rows * steps, latent_dim): row r goes from z_r0 to z_r1 linearly."""
    ends = jax.random.normal(key, (2, rows, 1, latent_dim))
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None]  # (1, steps, 1)
    return ((1.0 - t) * ends[0] + t * ends[1]).reshape(rows * steps, latent_dim)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, sample the checkpoint, write the PNG, print its path.

    Returns the exit status of `jnn.cli` (2 for a bad run path or option);
    errors print one line to stderr (`--debug`: raised with a traceback).
    """
    args = _parser().parse_args(argv)
    return guarded(lambda: _main(args), debug=args.debug)


def _main(args) -> int:
    for name in ("num", "steps"):
        _checks.positive_int("sample", f"--{name}", getattr(args, name))
    run = load_run(args.path)
    if run.task != "gan":
        raise _checks.value_error(
            "sample",
            "a GAN run (train.task = 'gan')",
            f"task {run.task!r} at '{run.checkpoint}'",
            "sample character models with scripts/sample.py",
        )
    cfg = run.config
    key, latent = jax.random.key(args.seed), cfg.gan.latent_dim
    if args.interpolate:
        rows = max(args.num // args.steps, 1)
        z, columns = interpolation_noise(key, rows, args.steps, latent), args.steps
    else:
        z, columns = jax.random.normal(key, (args.num, latent)), 8
    samples = np.asarray(run.predict(z))
    picture = _picture(cfg, samples, columns)
    name = "interpolation" if args.interpolate else "samples"
    out = Path(args.out) if args.out else run.path / f"{name}_{run.step}.png"
    print(png.write_png(out, picture), flush=True)
    return 0


def _picture(cfg, samples: np.ndarray, columns: int) -> np.ndarray:
    if samples.ndim == 2:  # the ring: one scatter of every sample
        return task.sample_picture(cfg, samples)
    return png.image_grid(
        samples, columns=columns, scale=4 if samples.shape[1] < 16 else 2
    )


if __name__ == "__main__":
    raise SystemExit(main())
