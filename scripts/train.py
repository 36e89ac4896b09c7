"""Train a model from a TOML config: `python scripts/train.py CONFIG [--set k=v ...]`.

Thin wrapper: all logic lives in `jnn.train.fit` (see `jnn/cli.py`).
"""

import sys

from jnn.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
