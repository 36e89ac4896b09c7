"""Evaluate a saved run: `python scripts/evaluate.py RUN_DIR_OR_CHECKPOINT [--split test]`.

Prints the metrics and saves them as `eval_<split>.json` in the run directory
(beside a checkpoint folder copied out of its run), or at `--out PATH`.
Errors print one line and exit 2 (`--debug` for the traceback); `--help`
lists the exit statuses. Thin wrapper: all logic lives in `jnn.runs.evaluate`
(see `jnn/cli.py`).
"""

import sys

from jnn.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
