"""`fit(config, workdir)`: the library entry point behind `scripts/train.py`."""

import json
import time
from pathlib import Path
from typing import NamedTuple

from jnn import config as config_lib
from jnn.config import Config
from jnn.train import checkpoint, loop, setup
from jnn.train.state import TrainState


class FitResult(NamedTuple):
    train_state: TrainState
    history: list[dict]  # per-epoch metrics
    test: dict  # final metrics on the test split
    best_epoch: int  # -1 without early stopping
    run_dir: Path | None


def fit(cfg: Config, workdir: str | Path | None = None, *, log=print) -> FitResult:
    """Train the model described by `cfg`; write a run directory if given.

    The run directory gets `config.toml` (the resolved config), `metrics.jsonl`
    (one line per epoch), `checkpoints/ckpt_<step>/` and `results.json`.

    Args:
      cfg: A validated `jnn.config.Config`.
      workdir: Run directory, created if needed; None writes nothing.
      log: Called with one progress line per epoch (None silences).
    """
    log = log or (lambda line: None)
    start = time.perf_counter()
    run = setup.build(cfg)
    ts = setup.initial_state(run, cfg.train.seed)
    step, eval_step = setup.jitted_steps(run, cfg)
    writer = _RunWriter(workdir, cfg) if workdir is not None else None

    def eval_split(params, state, name):
        split = getattr(run.splits, name)
        return loop.evaluate(
            eval_step, params, state, split.x, split.y, run.eval_batch_size
        )

    def on_epoch(record, ts):
        log(_format(record, cfg.train.epochs))
        if writer:
            writer.epoch(record, ts, cfg.train.checkpoint_every)

    options = _options(cfg, run)
    result = loop.train(ts, step, eval_split, run.splits.train[:2], options, on_epoch)
    ts = result.train_state
    test = eval_split(ts.params, ts.state, "test")
    summary = _summary(result, test, time.perf_counter() - start)
    log(_format_test(test, summary["seconds"]))
    if writer:
        writer.final(ts, summary)
    return FitResult(ts, result.history, test, result.best_epoch, writer and writer.dir)


def _options(cfg: Config, run: setup.Setup) -> loop.LoopOptions:
    es = cfg.early_stopping
    return loop.LoopOptions(
        epochs=cfg.train.epochs,
        batch_size=run.batch_size,
        ragged=cfg.train.ragged,
        eval_batch_size=run.eval_batch_size,
        seed=cfg.train.seed,
        early_stopping=es if es.enabled else None,
        schedule=run.schedule,
    )


def _summary(result: loop.LoopResult, test: dict, seconds: float) -> dict:
    return {
        "test": test,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "final_step": int(result.train_state.step),
        "seconds": round(seconds, 3),
    }


def _format(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']:>3}/{epochs}"]
    for name, value in record.items():
        if name == "lr":
            parts.append(f"lr {value:.2e}")
        elif name not in ("epoch", "step", "time_s"):
            parts.append(f"{name} {value:.4f}")
    parts.append(f"{record['time_s']:.2f}s")
    return "  ".join(parts)


def _format_test(test: dict, seconds: float) -> str:
    metrics = "  ".join(f"test_{k} {v:.4f}" for k, v in test.items())
    return f"done in {seconds:.1f}s  {metrics}"


class _RunWriter:
    """Writes a run directory: resolved config, metrics lines, checkpoints."""

    def __init__(self, workdir, cfg: Config):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        config_lib.save(cfg, self.dir / "config.toml")
        self.metrics = self.dir / "metrics.jsonl"
        self.metrics.write_text("")

    def epoch(self, record: dict, ts: TrainState, every: int) -> None:
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if every and record["epoch"] % every == 0:
            self.checkpoint(ts, {"epoch": record["epoch"]})

    def checkpoint(self, ts: TrainState, extra: dict) -> Path:
        meta = {"config": config_lib.to_dict(self.cfg), **extra}
        return checkpoint.save(
            self.dir / "checkpoints", int(ts.step), ts._asdict(), meta, overwrite=True
        )

    def final(self, ts: TrainState, summary: dict) -> None:
        path = self.checkpoint(ts, {"final": True, **summary})
        summary = {**summary, "checkpoint": str(path.relative_to(self.dir))}
        (self.dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
