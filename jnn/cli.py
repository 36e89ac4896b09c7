"""Command-line entry points: `jnn-train` and `jnn-evaluate` (and scripts/)."""

import argparse
import json
import sys
import time
from pathlib import Path

from jnn import config as config_lib

_EPILOG = """\
exit status:
  0    training finished
  1    an error (bad config, locked run directory, non-finite loss, ...)
  143  pre-empted by SIGTERM (130: SIGINT): the current step finished and a
       checkpoint was committed; run the same command again to resume
"""


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train a jnn model from a TOML config.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    _add_resume_arguments(parser)
    return parser


def _add_resume_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume",
        choices=("auto", "required", "never"),
        default="auto",
        help="auto (default): continue from the newest checkpoint in --workdir "
        "if there is one, else start fresh; required: error if there is none; "
        "never: start fresh, error if checkpoints exist",
    )
    parser.add_argument(
        "--break-lock",
        action="store_true",
        help="break the stale lock left by a killed run (a live run's lock is "
        "never broken)",
    )
    parser.add_argument(
        "--allow-config-change",
        action="store_true",
        help="resume even though the config differs from the checkpoint's "
        "(the differences are printed; results are no longer bitwise)",
    )


def _fit(cfg, workdir: str, args) -> int:
    """Run `fit_config` with signals caught; return the process exit status."""
    from jnn.runs.engine import ResumeOptions
    from jnn.runs.signals import Preempted, catch_preemption
    from jnn.train import fit_config  # imported late: `--help` stays instant

    resume = ResumeOptions(args.resume, args.break_lock, args.allow_config_change)

    def log(line: str) -> None:
        print(line, flush=True)

    with catch_preemption() as stop:
        try:
            result = fit_config(cfg, workdir, log=log, resume=resume, stop=stop)
        except Preempted as event:
            print(f"pre-empted: {event}; exit {event.exit_code}", flush=True)
            return event.exit_code
    print(f"saved to {result.run_dir}", flush=True)
    return 0


def train_main(argv: list[str] | None = None) -> int:
    """Parse arguments, print the resolved config, and call `jnn.train.fit_config`."""
    args = _train_parser().parse_args(argv)
    cfg = config_lib.load(args.config, args.set)
    workdir = (
        args.workdir
        or f"runs/{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    print(config_lib.to_toml(cfg), flush=True)
    print(f"run directory: {workdir}", flush=True)
    return _fit(cfg, workdir, args)


def _evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a saved jnn run.")
    parser.add_argument("path", help="a run directory or one of its checkpoints")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    return parser


def evaluate_main(argv: list[str] | None = None) -> int:
    """Restore a run's checkpoint, evaluate a split, print and save metrics."""
    from jnn.runs.evaluate import evaluate, write_report
    from jnn.runs.restore import run_dir

    args = _evaluate_parser().parse_args(argv)
    result = evaluate(args.path, args.split)
    print(json.dumps(result, indent=2), flush=True)
    folder = run_dir(Path(result["checkpoint"]))
    saved = write_report(result, folder / f"eval_{args.split}.json")
    print(f"saved to {saved}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
