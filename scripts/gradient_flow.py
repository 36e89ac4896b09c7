"""Measure vanishing gradients: `python scripts/gradient_flow.py [--out DIR]`.

Trains four 20-layer networks (sigmoid with naive init, ReLU with He init,
ReLU with batch norm, ReLU with residual connections) on digits and writes
`gradient_flow.json` and, with matplotlib installed (`pip install -e
".[plot]"`), `gradient_flow.png`. Logic lives in `jnn.experiments.vanishing_gradients`.
"""

import argparse
import json
from pathlib import Path

from jnn.experiments import vanishing_gradients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/gradient_flow", help="output directory")
    parser.add_argument("--steps", type=int, default=300, help="training steps per net")
    parser.add_argument("--seed", type=int, default=0, help="init and batch seed")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = vanishing_gradients.run(steps=args.steps, seed=args.seed)
    (out / "gradient_flow.json").write_text(json.dumps(report, indent=2) + "\n")
    for name, record in report["networks"].items():
        print(
            f"{name:20s} first/last {record['first_over_last']:.3g}  max/min {record['max_over_min']:.3g}"
        )
    try:
        vanishing_gradients.plot(report, out / "gradient_flow.png")
    except ImportError:
        print("matplotlib not installed: skipped the PNG (pip install -e '.[plot]')")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
