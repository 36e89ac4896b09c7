"""Regenerate the golden param-structure snapshots in tests/snapshots/params/.

The snapshots guard the parameter tree, which is public API: a change to a
layer's param names, shapes or dtypes fails `tests/test_layer_contract.py`
until this script is run on purpose and the new JSON is reviewed and committed.

Usage:
  python scripts/regen_snapshots.py             # every case in LAYER_CASES
  python scripts/regen_snapshots.py dense conv  # only these cases
  python scripts/regen_snapshots.py --prune     # also delete orphan snapshots
"""

import argparse
import importlib.util
import json
import pathlib
import sys

CASES_FILE = pathlib.Path(__file__).resolve().parents[1] / "tests" / "layer_cases.py"


def load_cases():
    """Import tests/layer_cases.py by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("layer_cases", CASES_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["layer_cases"] = module  # NamedTuple needs its module registered
    spec.loader.exec_module(module)
    return module


def write(lc, case) -> bool:
    """Write one snapshot; return True if the file changed."""
    path = lc.snapshot_path(case)
    text = json.dumps(lc.snapshot(case), indent=2, sort_keys=True) + "\n"
    old = path.read_text() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return old != text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--prune", action="store_true", help="delete orphans")
    args = parser.parse_args(argv)
    lc = load_cases()
    unknown = sorted(set(args.cases) - set(lc.CASES_BY_NAME))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; valid: {sorted(lc.CASES_BY_NAME)}")
    for name in args.cases or list(lc.CASES_BY_NAME):
        changed = write(lc, lc.CASES_BY_NAME[name])
        print(f"{'updated' if changed else 'same   '} {name}")
    for path in sorted(lc.SNAPSHOT_DIR.glob("*.json")):
        if path.stem not in lc.CASES_BY_NAME:
            if args.prune:
                path.unlink()
            print(f"{'deleted' if args.prune else 'orphan '} {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
