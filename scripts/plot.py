"""Plot a run's curves: `python scripts/plot.py RUN_DIR [--out PNG]`.

Writes `RUN_DIR/curves.png` from `RUN_DIR/metrics.jsonl`, for every run kind:
loss (train vs validation, or a GAN's d_loss vs g_loss), each metric (e.g.
accuracy, bits per character) and each quality measure (a GAN's modes, ...).
A GAN run's own curves.png is redrawn with all of its panels and more. A run
with nothing to draw is refused (exit status 1), naming what it lacks. Needs
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
    try:
        print(plot_run(args.run_dir, args.out))
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(error, file=sys.stderr)  # a fix-it message: no traceback needed
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
