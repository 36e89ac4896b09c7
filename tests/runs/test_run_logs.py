"""Run-directory logs: metrics.csv and hand-written TensorBoard event files."""

import csv
import json
import math
import struct
from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import pytest

from jnn import config as config_lib
from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.models.config import MlpConfig
from jnn.runs import callbacks, tensorboard
from jnn.runs import csv_log as metrics_log
from jnn.train import fit_config
from jnn.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_csv_header_is_the_union_of_keys_in_first_seen_order(tmp_path):
    path = tmp_path / "m.csv"
    log = metrics_log.CsvLog(path)
    log.append({"epoch": 1, "loss": 0.5})
    log.append({"epoch": 2, "loss": 1 / 3})
    assert _rows(path) == [["epoch", "loss"], ["1", "0.5"], ["2", repr(1 / 3)]]
    log.append({"lr": 0.1, "epoch": 3, "loss": 0.25})  # a new key rewrites
    assert _rows(path) == [
        ["epoch", "loss", "lr"],
        ["1", "0.5", ""],
        ["2", repr(1 / 3), ""],
        ["3", "0.25", "0.1"],
    ]
    assert float(_rows(path)[2][1]) == 1 / 3  # floats round-trip exactly


def test_csv_keep_continues_an_existing_file_and_default_truncates(tmp_path):
    path = tmp_path / "m.csv"
    metrics_log.CsvLog(path).append({"epoch": 1, "loss": 0.5})
    metrics_log.CsvLog(path, keep=True).append({"epoch": 2, "loss": 0.25})
    assert _rows(path) == [["epoch", "loss"], ["1", "0.5"], ["2", "0.25"]]
    metrics_log.CsvLog(path)
    assert path.read_text() == ""


def test_crc32c_and_masking_match_the_reference_values():
    assert tensorboard.crc32c(b"") == 0
    assert tensorboard.crc32c(b"123456789") == 0xE3069283  # RFC 3720 check value
    assert tensorboard.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 zeros
    crc = 0xE3069283
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    assert tensorboard.masked_crc(b"123456789") == (rotated + 0xA282EAD8) % 2**32


def test_event_file_has_tfrecord_framing_and_decodes_back(tmp_path):
    writer = tensorboard.EventWriter(tmp_path / "tb")
    writer.scalars(0, {"a": 1.5})
    writer.scalars(300, {"a": -2.0, "b/c": 1e-3})
    assert writer.path.name.startswith("events.out.tfevents.")
    data = writer.path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    first = data[12 : 12 + length]
    assert first.endswith(b"\x1a\x0dbrain.Event:2")  # field 3: file_version
    got = [(s, t, v) for _, s, t, v in tensorboard.read_scalars(writer.path)]
    assert got == [(0, "a", 1.5), (300, "a", -2.0), (300, "b/c", pytest.approx(1e-3))]


def test_read_records_rejects_a_flipped_byte_and_a_truncation(tmp_path):
    writer = tensorboard.EventWriter(tmp_path)
    writer.scalars(1, {"loss": 0.5})
    data = bytearray(writer.path.read_bytes())
    data[-6] ^= 0xFF
    writer.path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="expected valid CRCs at byte"):
        tensorboard.read_records(writer.path)
    writer.path.write_bytes(bytes(data[:-30]))
    with pytest.raises(ValueError, match="expected"):
        tensorboard.read_records(writer.path)


def test_fit_writes_csv_and_tensorboard_scalars_matching_the_jsonl(tmp_path):
    cfg = Config(
        data=SyntheticConfig(name="moons", num_samples=64),
        model=MlpConfig(hidden=(4,)),
        train=TrainConfig(epochs=2, batch_size=16, tensorboard=True),
    )
    fit_config(cfg, tmp_path, log=None, progress=False)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(s) for s in lines]
    rows = _rows(tmp_path / "metrics.csv")
    assert rows[0] == list(records[0])
    assert [[float(v) for v in r] for r in rows[1:]] == [
        list(r.values()) for r in records
    ]
    (events,) = (tmp_path / "tensorboard").iterdir()
    scalars = tensorboard.read_scalars(events)
    for record in records:
        logged = {t: v for _, s, t, v in scalars if s == record["step"]}
        keys = set(record) - {"epoch", "step", "time_s"}
        assert set(logged) == {tensorboard.tag(k) for k in keys}
        for key in keys:
            assert math.isclose(logged[tensorboard.tag(key)], record[key], rel_tol=1e-6)


def test_tags_overlay_train_and_val_and_group_quality():
    record = {
        "epoch": 1,
        "step": 5,
        "train_loss": 0.5,
        "train_grad_norm": 2.0,
        "val_loss": 0.75,
        "val_accuracy": 0.25,
        "lr": 0.1,
        "time_s": 1.0,
        "train_d_loss": 1.0,
        "train_g_loss": 2.0,
        "modes": 8,
        "high_quality": 0.5,
        "skipped_steps": 0,
        "ok": True,
    }
    assert tensorboard.record_scalars(record) == {
        "loss/train": 0.5,
        "grad_norm/train": 2.0,
        "loss/val": 0.75,
        "accuracy/val": 0.25,
        "lr": 0.1,
        "d_loss/train": 1.0,
        "g_loss/train": 2.0,
        "quality/modes": 8.0,
        "quality/high_quality": 0.5,
        "skipped_steps": 0.0,
    }


def test_xor_run_logs_loss_curves_and_lr_equal_to_the_jsonl(tmp_path):
    overrides = ["train.tensorboard=true", "train.epochs=3"]
    cfg = config_lib.load(ROOT / "configs" / "xor_mlp.toml", overrides)
    fit_config(cfg, tmp_path, log=None, progress=False)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(s) for s in lines]
    (events,) = (tmp_path / "tensorboard").iterdir()
    got = {(s, t): v for _, s, t, v in tensorboard.read_scalars(events)}
    assert [r["step"] for r in records] == [1, 2, 3]
    for r in records:
        for key, tag in (("train_loss", "loss/train"), ("val_loss", "loss/val")):
            assert got[r["step"], tag] == pytest.approx(r[key], rel=1e-6)
        assert got[r["step"], "lr"] == pytest.approx(r["lr"]) == 0.5
        assert (r["step"], "time_s") not in got and (r["step"], "epoch") not in got


class _State(NamedTuple):
    step: object


def test_step_logger_writes_losses_every_n_steps_only(tmp_path):
    writer = tensorboard.EventWriter(tmp_path)
    on_step = tensorboard.step_logger(writer, every=3).on_step
    reads = []

    class Step:  # a device scalar that counts how often it is read
        def __init__(self, n):
            self.n = n

        def __int__(self):
            reads.append(self.n)
            return self.n

    for n in range(5, 14):  # a resumed run: global steps 5..13
        metrics = {"d_loss": n / 10, "g_loss": -n, "d_real": 0.5}
        on_step(callbacks.StepEnd(0, n - 4, _State(Step(n)), metrics))
    got = [(s, t, v) for _, s, t, v in tensorboard.read_scalars(writer.path)]
    assert got == [
        (s, t, pytest.approx(v))
        for s in (6, 9, 12)
        for t, v in (("d_loss/train_step", s / 10), ("g_loss/train_step", -s))
    ]
    assert reads == [5, 6, 9, 12]  # the first call, then logged steps only


def test_step_logger_supervised_tag_and_every_must_be_positive(tmp_path):
    writer = tensorboard.EventWriter(tmp_path)
    on_step = tensorboard.step_logger(writer, every=1).on_step
    metrics = {"loss": jnp.float32(0.25), "grad_norm": jnp.float32(3.0)}
    on_step(callbacks.StepEnd(0, 1, _State(jnp.int32(7)), metrics))
    got = [(s, t, v) for _, s, t, v in tensorboard.read_scalars(writer.path)]
    assert got == [(7, "loss/train_step", 0.25)]
    with pytest.raises(ValueError, match=r"expected `every` > 0, got 0"):
        tensorboard.step_logger(writer, every=0)


def test_config_per_step_loss_scalars_every_n_steps(tmp_path):
    root = Path(__file__).resolve().parents[2]
    overrides = ["train.tensorboard=true", "train.tensorboard_every_steps=5"]
    cfg = config_lib.load(
        root / "configs" / "xor_mlp.toml", [*overrides, "train.epochs=12"]
    )
    fit_config(cfg, tmp_path, log=None, progress=False)
    (events,) = (tmp_path / "tensorboard").iterdir()
    steps = [
        s
        for _, s, tag, _ in tensorboard.read_scalars(events)
        if tag == "loss/train_step"
    ]
    assert steps == [5, 10]  # xor: one full batch per epoch, 12 steps
    with pytest.raises(ValueError, match=r"train\.tensorboard_every_steps` is read by"):
        config_lib.load(root / "configs" / "xor_mlp.toml", overrides[1:])
