"""Export a trained run: `python scripts/export.py RUN_DIR_OR_CHECKPOINT --out FILE`.

`--format jax` (default) writes the run's jitted inference (input
normalisation included) as a serialised `jax.export` module with a symbolic
batch dimension, and its JSON signature at FILE.json; load it without jnn
with `jax.export.deserialize(bytearray(open(FILE, "rb").read())).call(x)`
(see `jnn.export`). Needs `pip install "jnn[export]"`.

`--format safetensors` writes the run's params and model state as a
safetensors file, tensors named "params.<key path>" and "state.<key path>"
(see `jnn.interchange`). Needs `pip install "jnn[safetensors]"`.

Errors print one line and exit 2 (`--debug` for the traceback). Thin
wrapper: the logic lives in `jnn.export` and `jnn.interchange`.
"""

import argparse
import sys

from jnn.cli import OK, add_debug_argument, guarded


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a run directory or one of its checkpoints")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write")
    parser.add_argument(
        "--format",
        choices=["jax", "safetensors"],
        default="jax",
        help="jax: jitted inference (default); safetensors: params and state",
    )
    parser.add_argument(
        "--step", type=int, default=None, help="checkpoint step (default: newest)"
    )
    parser.add_argument(
        "--platforms",
        default=None,
        metavar="LIST",
        help="jax format: platforms to lower for, e.g. cpu,cuda (default: this "
        "machine's)",
    )
    add_debug_argument(parser)
    return parser


def _export(args) -> int:
    import jnn

    run = jnn.load_run(args.path, args.step)
    if args.format == "safetensors":
        from jnn import interchange

        print(f"saved to {interchange.save_run(run, args.out)}", flush=True)
        return OK
    platforms = args.platforms.split(",") if args.platforms else None
    paths = jnn.export.save(run, args.out, platforms=platforms)
    print(f"saved to {paths.model} (signature {paths.signature})", flush=True)
    return OK


def main(argv: list[str] | None = None) -> int:
    """Export the run at argv's path; return the exit status of `jnn.cli`."""
    args = _parser().parse_args(argv)
    return guarded(lambda: _export(args), debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
