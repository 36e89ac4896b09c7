"""Evaluate a saved run: `python scripts/evaluate.py RUN_DIR_OR_CHECKPOINT [--split test]`.

Thin wrapper: all logic lives in `jnn.runs.evaluate` (see `jnn/cli.py`).
"""

import sys

from jnn.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
