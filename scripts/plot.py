"""Plot a run's learning curves: `python scripts/plot.py RUN_DIR [--out PNG]`.

Writes `RUN_DIR/curves.png`: loss and the run's metric (e.g. accuracy) over
epochs, train vs validation, read from `RUN_DIR/metrics.jsonl`. Needs
matplotlib (`pip install 'jnn[plot]'`).
"""

import argparse
import sys

from jnn.diagnostics.plot import plot_run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run directory written by scripts/train.py")
    parser.add_argument(
        "--out", default=None, help="PNG path (default RUN_DIR/curves.png)"
    )
    args = parser.parse_args(argv)
    print(plot_run(args.run_dir, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
