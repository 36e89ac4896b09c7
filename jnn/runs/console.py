"""What a run writes to the console: the start block and the epoch lines.

The engine logs a short start block (run directory, devices, parameter
count and the task's `facts`: data sizes and, for a config run, the fields
that differ from the defaults), one line per epoch of at most `LINE_WIDTH`
columns and a final line. The metric files keep every key of every record;
the console leaves out repeats (see `console_metrics`), which the progress
display (`jnn.runs.progress`) shares.
"""

import textwrap
from pathlib import Path

import jax

from jnn.runs import mesh

# Console names of metrics, in epoch lines and the progress display.
SHORT = {
    "accuracy": "acc",
    "binary_accuracy": "bacc",
    "high_quality": "hq",
    "skipped_steps": "skipped",
}
HIDDEN = ("grad_norm",)  # in metrics.jsonl, not on the console

LINE_WIDTH = 100  # console columns of the start block and epoch lines


def console_metrics(values: dict) -> list[tuple[str, float]]:
    """The metrics worth a console field: short names, loss first, no repeats.

    `objective` is left out when it equals `loss` (no penalty), and
    `HIDDEN` ones always; the metric files keep every key.

    Example:
      >>> console_metrics({"accuracy": 0.9, "loss": 0.5, "objective": 0.5})
      [('loss', 0.5), ('acc', 0.9)]
    """
    shown = {k: v for k, v in values.items() if k not in HIDDEN}
    if "objective" in shown and shown["objective"] == shown.get("loss"):
        del shown["objective"]
    names = sorted(shown, key=lambda name: name != "loss")  # loss first
    return [(SHORT.get(name, name), shown[name]) for name in names]


def start_block(task, run_dir: Path | None, fuse=None) -> str:
    """The console's start block: where, on what, how big, what differs.

    Run directory (if any), devices, parameter count, the steps per
    dispatch (`fuse`, a `fusing.Choice`), then the task's `facts` (data
    sizes; for a config run, the fields that differ from the defaults).
    Lines are wrapped to `LINE_WIDTH` columns.
    """
    devices = jax.devices()
    params = jax.tree.leaves(task.params_of(task.state))
    count = sum(int(getattr(leaf, "size", 1)) for leaf in params)
    facts = {
        "run": str(run_dir) if run_dir else "no run directory (nothing saved)",
        "devices": ", ".join(_device(d) for d in devices[:4])
        + (f" … ({len(devices)} in all)" if len(devices) > 4 else ""),
        "params": f"{count:,} in {len(params)} arrays",
        **_mesh(task),
        **_fusing(fuse),
        **task.facts,
    }
    lines = [f"start {task.name} run"]
    for label, text in facts.items():
        lines += textwrap.wrap(
            text,
            LINE_WIDTH,
            initial_indent=f"  {label:<8}",
            subsequent_indent=" " * 10,
            break_on_hyphens=False,
        )
    return "\n".join(lines)


def _mesh(task) -> dict:
    """The mesh line: axis sizes and what one device holds (none on 1 device)."""
    placement = task.placement
    if placement.mesh is None:
        return {}
    held = mesh.describe_memory(placement, task.params_of(task.state), task.state)
    return {"mesh": f"{placement.describe()}; {held}"}


def _fusing(fuse) -> dict:
    """The line on steps per dispatch (`jnn.runs.fusing`), if chosen."""
    if fuse is None:
        return {}
    steps = "1 step" if fuse.steps == 1 else f"{fuse.steps} steps"
    return {"fusing": f"{steps} per dispatch ({fuse.why})"}


def _device(device) -> str:
    kind = getattr(device, "device_kind", device.platform)
    return str(device) if kind.lower() == device.platform else f"{device} ({kind})"


def format_record(record: dict, epochs: int, width: int = LINE_WIDTH) -> str:
    """One console line for an epoch record, at most `width` columns.

    Train metrics lose their `train_` prefix, validation ones come after a
    `|` as `val ...`, and repeats are left out (see
    `console_metrics`); metrics.jsonl keeps every key.
    Whole fields are dropped from the right of the metrics to fit.

    Example:
      >>> r = {"epoch": 3, "step": 120, "train_loss": 0.1234, "train_objective":
      ...      0.1234, "val_loss": 0.1, "lr": 1e-3, "time_s": 0.12}
      >>> format_record(r, 50)
      'ep 3/50 step 120 loss 0.1234 | val loss 0.1 | lr 1.0e-03 0.12s'
    """
    train = {k[6:]: v for k, v in record.items() if k.startswith("train_")}
    val = {k[4:]: v for k, v in record.items() if k.startswith("val_")}
    skip = {"epoch", "step", "time_s", "lr"}
    other = {k: v for k, v in record.items() if k not in skip and k[:4] != "val_"}
    other = {k: v for k, v in other.items() if not k.startswith("train_")}
    head = f"ep {record['epoch']}/{epochs} step {record['step']}"
    groups = [
        [f"{n} {_num(v)}" for n, v in console_metrics(train)],
        [f"{n} {_num(v)}" for n, v in console_metrics(val)],
        [f"{n} {_num(v)}" for n, v in console_metrics(other)],
    ]
    tail = f"{record['time_s']:.2f}s"
    if "lr" in record:
        tail = f"lr {record['lr']:.1e} {tail}"
    while True:
        line = _join(head, groups, tail)
        if len(line) <= width or not any(groups):
            return line
        longest = max((g for g in groups if g), key=len)
        longest.pop()  # a whole field, from the right of the fullest group


def _join(head: str, groups: list, tail: str) -> str:
    train, val, other = (" ".join(g) for g in groups)
    parts = [f"{head} {train}".rstrip()]
    if val:
        parts.append(f"val {val}")
    if other:
        parts.append(other)
    return " | ".join([*parts, tail])


def _num(value) -> str:
    """A metric value in 4 significant digits (ints as they are)."""
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def format_test(test: dict, seconds: float, baselines: dict) -> str:
    """The final console line: time, test metrics and baselines."""
    metrics = "".join(f"  test_{k} {v:.4f}" for k, v in test.items())
    against = "".join(f"  (baseline {k} {v:.4f})" for k, v in baselines.items())
    return f"done in {seconds:.1f}s{metrics}{against}"
