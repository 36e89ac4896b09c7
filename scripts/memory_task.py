"""Show vanishing gradients on a recall task: `python scripts/memory_task.py [--out DIR]`.

Trains a simple RNN, an LSTM and a GRU to name the symbol shown at step 0 of a
sequence after T - 1 distractor steps, at a few lengths T, and writes
`memory_task.json` (per cell and length: test accuracy, chance level, steps,
seconds) and prints a table. Logic lives in `jnn.experiments.memory`.
"""

import argparse
import json
from pathlib import Path

from jnn.experiments import memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/memory_task", help="output directory")
    parser.add_argument(
        "--lengths", type=int, nargs="+", default=list(memory.DEFAULT_LENGTHS)
    )
    parser.add_argument("--cells", nargs="+", default=["simple", "lstm", "gru"])
    parser.add_argument("--steps", type=int, default=1500, help="max steps per run")
    parser.add_argument("--seed", type=int, default=0, help="init and data seed")
    args = parser.parse_args()
    report = memory.run(args.cells, args.lengths, steps=args.steps, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory_task.json").write_text(json.dumps(report, indent=2) + "\n")
    print(memory.table(report))
    print(f"wrote {out / 'memory_task.json'}")


if __name__ == "__main__":
    main()
