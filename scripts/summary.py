"""Print a model's layers, output shapes, parameter counts and FLOPs.

Usage: `python scripts/summary.py CONFIG [--set section.key=value ...]
[--batch-size N]`. The data set is loaded as for training (it fixes the input
shape and the number of classes); FLOPs are for one batch of N (default 1).
"""

import argparse
import sys

from jnn import config
from jnn.diagnostics.model_summary import from_config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="a TOML config, e.g. configs/mlp_digits.toml")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set model.hidden=[64]",
    )
    parser.add_argument("--batch-size", type=int, default=1, help="inputs per batch")
    args = parser.parse_args(argv)
    cfg = config.load(args.config, args.set)
    print(from_config(cfg, batch_size=args.batch_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
