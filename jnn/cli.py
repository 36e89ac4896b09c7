"""Command-line entry points: `jnn-train` and `jnn-evaluate` (and scripts/)."""

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from jnn import _checks
from jnn import config as config_lib
from jnn.config import loader as config_loader

# Exit statuses, shared by jnn-train, jnn-evaluate and scripts/sample.py.
OK = 0
FAILED = 1  # the run failed: non-finite loss, out of memory, I/O error, a bug
USAGE = 2  # bad input: arguments, config, data files, run directory, checkpoint
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)

_STATUSES = """\
  1    the run failed: non-finite loss, out of memory, an I/O error, or an
       unexpected error (a bug: rerun with --debug for the traceback)
  2    bad input: arguments, config file or value, data file, run directory
       (locked, or refused by --resume) or checkpoint; nothing was trained
  130  interrupted by Ctrl-C before training started
"""

_EPILOG = (
    """\
exit status:
  0    training finished
"""
    + _STATUSES
    + """\
  143  pre-empted by SIGTERM (130: SIGINT): the current step finished and a
       checkpoint was committed; run the same command again to resume

Errors print one line, `error: <what to fix>`, to stderr; --debug shows the
traceback instead.
"""
)

_MEMORY_HINT = (
    "lower the sizes in the config: data.num_samples (generated data), the "
    "model widths (model.hidden, model.channels, ...) or train.batch_size"
)

# jnn's own messages: `<where>: expected <what>, got <actual>.`
_JNN_MESSAGE = re.compile(r"expected .*, got ", re.DOTALL)


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--debug`: let errors raise with their traceback."""
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, show the Python traceback instead of one line",
    )


def _is_user_error(error: BaseException) -> bool:
    if isinstance(error, _checks.JnnError | FileNotFoundError):
        return True
    is_value = isinstance(error, ValueError | TypeError)
    return is_value and bool(_JNN_MESSAGE.search(str(error)))


def _out_of_memory(error: BaseException) -> bool:
    # NumPy raises MemoryError; XLA a runtime error saying RESOURCE_EXHAUSTED.
    return isinstance(error, MemoryError) or "RESOURCE_EXHAUSTED" in str(error)


def _say(text: str) -> None:
    print(f"error: {text}", file=sys.stderr, flush=True)


def guarded(
    body: Callable[[], int], *, debug: bool, memory_hint: str | None = None
) -> int:
    """Run an entry point's `body`; turn errors into one line and a status.

    jnn's errors (they name the file, field or path, and a fix) exit 2;
    running out of memory (with `memory_hint`), other I/O errors and
    unexpected errors exit 1, Ctrl-C 130. With `debug` the error is raised
    as is, with its traceback.
    """
    if debug:
        return body()
    try:
        return body()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr, flush=True)
        return INTERRUPTED
    except Exception as error:
        if _out_of_memory(error):
            text = str(error) or type(error).__name__
            _say(
                f"out of memory: {text}. Hint: {memory_hint or 'use a larger machine'}."
            )
            return FAILED
        if isinstance(error, _checks.JnnError) and _is_failed_run(error):
            _say(str(error))
            return FAILED
        if _is_user_error(error):
            _say(str(error))
            return USAGE
        if isinstance(error, OSError):
            _say(str(error))
            return FAILED
        if note := _other_process_failed(error):
            _say(note)
            return FAILED
        _say(f"{type(error).__name__}: {error}")
        print("rerun with --debug for the traceback", file=sys.stderr, flush=True)
        return FAILED


def _other_process_failed(error: BaseException) -> str | None:
    if "jnn.runs.processes" not in sys.modules:
        return None  # no run of many processes began
    from jnn.runs import processes

    return processes.failure_note(error)


def _is_failed_run(error: BaseException) -> bool:
    from jnn.train.numerics import NonFiniteError

    return isinstance(error, NonFiniteError)


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
    add_debug_argument(parser)
    return parser


def _add_resume_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume",
        type=_resume_mode,
        default="auto",
        metavar="{auto,required,never,STEP}",
        help="auto (default): continue from the newest checkpoint in --workdir "
        "if there is one (a corrupt one is skipped with a warning, for the one "
        "before it), else start fresh; required: error if there is none; "
        "never: start fresh, error if checkpoints exist; STEP: continue from "
        "that step's checkpoint",
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


def _resume_mode(text: str) -> str | int:
    if text in ("auto", "required", "never"):
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(
        f"expected auto, required, never or a step number, got {text!r}"
    )


def _fit(cfg, workdir: str, args) -> int:
    """Run `fit_config` with signals caught; return the process exit status."""
    from jnn.runs import processes
    from jnn.runs.engine import ResumeOptions
    from jnn.runs.signals import Preempted, catch_preemption
    from jnn.train import fit_config  # imported late: `--help` stays instant

    step = args.resume if isinstance(args.resume, int) else None
    mode = "required" if step is not None else args.resume
    resume = ResumeOptions(mode, args.break_lock, args.allow_config_change, step)

    def log(line: str) -> None:
        print(line, flush=True)

    with catch_preemption() as stop:
        try:
            result = fit_config(cfg, workdir, log=log, resume=resume, stop=stop)
        except Preempted as event:
            print(f"pre-empted: {event}; exit {event.exit_code}", flush=True)
            return event.exit_code
    if processes.is_main():
        print(f"saved to {result.run_dir}", flush=True)
    return 0


def train_main(argv: list[str] | None = None) -> int:
    """Parse arguments, load the config and call `jnn.train.fit_config`.

    Returns the exit status (see the epilog of `--help`); errors print one
    line to stderr (`--debug`: raised with their traceback).
    """
    args = _train_parser().parse_args(argv)
    status = guarded(lambda: _train(args), debug=args.debug, memory_hint=_MEMORY_HINT)
    from jnn.runs import processes

    return processes.leave(status)  # a failed process of many leaves at once


def _train(args) -> int:
    if not args.set:  # an empty file alone would be a run of all defaults
        config_loader.read_toml(args.config, empty_ok=False)
    cfg = config_lib.load(args.config, args.set)
    from jnn.runs import processes  # imported late: `--help` stays instant

    processes.initialize(cfg.mesh)  # before anything runs on a device
    if not args.workdir and processes.count() > 1:
        raise _checks.value_error(
            "train",
            "--workdir for a run of many processes",
            "none",
            "every process must name the same run directory",
        )
    workdir = (
        args.workdir
        or f"runs/{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    if processes.is_main():
        print(f"run directory: {workdir}", flush=True)
    return _fit(cfg, workdir, args)


_EVALUATE_EPILOG = (
    """\
The report is saved as eval_<split>.json in the run directory of the
checkpoint (RUN for RUN/checkpoints/ckpt_*; a checkpoint folder copied out of
its run, with no config.toml above it, gets it beside the folder), or at
--out.

exit status:
  0    evaluated, report saved
"""
    + _STATUSES
)


def _evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Evaluate a saved jnn run.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", help="a run directory or one of its checkpoints")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="the JSON report to write (default: eval_<split>.json in the run "
        "directory; see below)",
    )
    add_debug_argument(parser)
    return parser


def evaluate_main(argv: list[str] | None = None) -> int:
    """Restore a run's checkpoint, evaluate a split, print and save metrics.

    Returns the exit status; errors print one line to stderr (`--debug`:
    raised with their traceback).
    """
    args = _evaluate_parser().parse_args(argv)
    return guarded(lambda: _evaluate(args), debug=args.debug)


def _evaluate(args) -> int:
    from jnn.runs.evaluate import evaluate, report_path, write_report

    result = evaluate(args.path, args.split)
    print(json.dumps(result, indent=2), flush=True)
    out = report_path(Path(result["checkpoint"]), args.split, args.out)
    print(f"saved to {write_report(result, out)}", flush=True)
    return OK


if __name__ == "__main__":
    sys.exit(train_main())
