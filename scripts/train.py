"""Train a model from a TOML config: `python scripts/train.py CONFIG [--set k=v ...]`.

Errors print one line, `error: ...`, and exit 2 (bad input) or 1 (the run
failed); `--debug` shows the traceback and `--help` lists the exit statuses.
Thin wrapper: all logic lives in `jnn.train.fit` (see `jnn/cli.py`).
"""

import sys

from jnn.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
