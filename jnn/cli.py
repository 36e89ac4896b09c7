"""Command-line entry points: `jnn-train` and `jnn-evaluate` (and scripts/)."""

import argparse
import json
import sys
import time
from pathlib import Path

from jnn import config as config_lib


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train a jnn model from a TOML config."
    )
    parser.add_argument(
        "config", help="path to a TOML config, e.g. configs/mlp_digits.toml"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=3e-4 (repeatable)",
    )
    parser.add_argument(
        "--workdir",
        default=None,
        help="run directory (default: runs/<config name>-<timestamp>)",
    )
    return parser


def train_main(argv: list[str] | None = None) -> int:
    """Parse arguments, print the resolved config, and call `jnn.train.fit`."""
    from jnn.train import fit  # imported late: `--help` stays instant

    args = _train_parser().parse_args(argv)
    cfg = config_lib.load(args.config, args.set)
    workdir = (
        args.workdir
        or f"runs/{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    print(config_lib.to_toml(cfg), flush=True)
    print(f"run directory: {workdir}", flush=True)
    result = fit(cfg, workdir, log=lambda line: print(line, flush=True))
    print(f"saved to {result.run_dir}", flush=True)
    return 0


def _evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a saved jnn run.")
    parser.add_argument("path", help="a run directory or one of its checkpoints")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    return parser


def evaluate_main(argv: list[str] | None = None) -> int:
    """Restore a run's checkpoint, evaluate a split, print and save metrics."""
    from jnn.train.evaluate import evaluate, write_report

    args = _evaluate_parser().parse_args(argv)
    result = evaluate(args.path, args.split)
    print(json.dumps(result, indent=2), flush=True)
    run_dir = Path(result["checkpoint"]).parent.parent
    saved = write_report(result, run_dir / f"eval_{args.split}.json")
    print(f"saved to {saved}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
