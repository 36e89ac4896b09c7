"""Generate from a trained run: `python scripts/sample.py RUN_DIR_OR_CHECKPOINT`.

Character models (`model.kind = "rnn_lm"` or "transformer_lm", e.g.
configs/char_lstm.toml, configs/char_transformer.toml):

    python scripts/sample.py runs/char_lstm-... --temperature 0.8 --length 300 --prime "The "

prints the prime followed by the sampled continuation (a transformer's prime
and length together fit its `model.max_len`). GAN runs
(`train.task = "gan"`, e.g. configs/gan_digits.toml) go to `jnn.gan.sample`:

    python scripts/sample.py runs/gan_digits-... [--num 64] [--interpolate]

writes a PNG grid of samples (a scatter plot for the ring). Thin wrapper: the
logic lives in `jnn.generation.language_model`, `jnn.generation.transformer_lm`
and `jnn.gan.sample`; `main` picks a sampler
from the run's config.
"""

import argparse
import sys

import jax

import jnn
from jnn.cli import USAGE, add_debug_argument, guarded
from jnn.generation import language_model, transformer_lm

# model.kind -> (load the run's model, sample text from it)
SAMPLERS = {
    "rnn_lm": (language_model.load_language_model, language_model.sample_text),
    "transformer_lm": (transformer_lm.load_transformer_lm, transformer_lm.sample_text),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a run directory or one of its checkpoints")
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="> 0; lower is safer"
    )
    parser.add_argument(
        "--length",
        type=int,
        default=None,
        help="characters to generate (default: 300, or as many as a "
        "transformer's max_len leaves after the prime)",
    )
    parser.add_argument("--prime", default="The ", help="text the sample continues")
    parser.add_argument("--seed", type=int, default=0, help="sampling PRNG seed")
    add_debug_argument(parser)
    return parser


def _sample_text(run, args, kind: str) -> str:
    load, sample_text = SAMPLERS[kind]
    model = load(run.checkpoint)
    key = jax.random.key(args.seed)
    length = args.length
    if length is None:
        room = getattr(getattr(model, "parts", None), "max_len", None)
        length = 300 if room is None else max(room - len(args.prime), 1)
    return args.prime + sample_text(
        model, args.prime, key=key, length=length, temperature=args.temperature
    )


def _peek(argv: list[str]) -> argparse.Namespace:
    """The run path and --debug, before the sampler (and its options) is known."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("path", nargs="?")
    peek.add_argument("--debug", action="store_true")
    return peek.parse_known_args(argv)[0]


def main(argv: list[str] | None = None) -> int:
    """Sample the run at argv's path; return the exit status of `jnn.cli`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    peek = _peek(argv)
    return guarded(lambda: _main(argv, peek.path), debug=peek.debug)


def _main(argv: list[str], path: str | None) -> int:
    if path is not None and jnn.load_run(path).task == "gan":
        from jnn.gan import sample as gan_sample  # its own options (--num, ...)

        return gan_sample.main(argv)
    args = _parser().parse_args(argv)
    run = jnn.load_run(args.path)
    kind = getattr(getattr(run.config, "model", None), "kind", None)
    if kind not in SAMPLERS:
        print(
            f"error: sample: expected a GAN run or a run of kind "
            f"{' or '.join(SAMPLERS)}, got {kind!r} "
            f"at '{run.checkpoint}'.",
            file=sys.stderr,
        )
        return USAGE
    print(_sample_text(run, args, kind), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
