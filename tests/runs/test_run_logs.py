"""Run-directory logs: metrics.csv and hand-written TensorBoard event files."""

import csv
import json
import math
import struct

import pytest

from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.models.config import MlpConfig
from jnn.runs import csv_log as metrics_log
from jnn.runs import tensorboard
from jnn.train import fit_config
from jnn.train.config import TrainConfig


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
        assert set(logged) == set(record) - {"epoch", "step"}
        for tag, value in logged.items():
            assert math.isclose(value, record[tag], rel_tol=1e-6)  # float32
