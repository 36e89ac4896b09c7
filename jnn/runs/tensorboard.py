"""TensorBoard scalars without TensorBoard: a minimal event-file writer.

Why hand-written: jnn's only dependencies are jax, optax and numpy, and the
`tensorboard` / `tensorboardX` packages are not installed here (nor in the
`test` extra). Scalar summaries need very little of their format: a TFRecord
stream (length, masked CRC-32C of the length, payload, masked CRC-32C of the
payload) of `Event` protobufs, each holding a wall time, a step and one
`Summary.Value(tag, simple_value)`. Those few fields are hand-encoded below,
and `read_scalars` decodes them back so the tests check the bytes, not a
library. TensorBoard reads the files from `RUN/tensorboard/`.

Tags follow `tag`: `loss/train` and `loss/val` share a chart, `lr` is the
learning rate, a GAN's measures are `quality/<name>`; `step_logger` adds
per-step `loss/train_step` points to the loss chart.

Protobuf fields used (tensorflow/core/util/event.proto, summary.proto):
  Event: 1 wall_time (double), 2 step (int64), 3 file_version (string),
         5 summary (Summary)
  Summary: 1 value (repeated Value);  Value: 1 tag (string), 2 simple_value (float)
"""

import socket
import struct
import time
from pathlib import Path

from jnn import _checks
from jnn.runs.callbacks import Callback, StepEnd

_FILE_VERSION = b"brain.Event:2"


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)  # Castagnoli, reflected
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum TFRecord uses.

    Example:
      >>> hex(crc32c(b"123456789"))  # the standard check value
      '0xe3069283'
    """
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _event(wall_time: float, step: int, body: bytes) -> bytes:
    return b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step) + body


def _scalar(tag: str, value: float) -> bytes:
    entry = _field(1, tag.encode()) + b"\x15" + struct.pack("<f", value)
    return _field(5, _field(1, entry))  # Event.summary { value { ... } }


def _record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return (
        length
        + struct.pack("<I", masked_crc(length))
        + data
        + struct.pack("<I", masked_crc(data))
    )


class EventWriter:
    """Append scalar events to a new `events.out.tfevents.*` file in `directory`.

    Example:
      >>> import tempfile
      >>> writer = EventWriter(tempfile.mkdtemp())
      >>> writer.scalars(3, {"train_loss": 0.5})
      >>> [(s, t, v) for _, s, t, v in read_scalars(writer.path)]
      [(3, 'train_loss', 0.5)]
    """

    def __init__(self, directory: str | Path):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}"
        self.path = directory / name
        self._write(_event(now, 0, _field(3, _FILE_VERSION)))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Write one scalar event per entry of `values` at `step`, then flush."""
        now = time.time()
        self._write(
            *(_event(now, step, _scalar(tag, float(v))) for tag, v in values.items())
        )

    def _write(self, *events: bytes) -> None:
        with self.path.open("ab") as f:
            f.write(b"".join(_record(e) for e in events))


# -- reading (for tests and for checking a run without TensorBoard) -----------


def read_records(path: str | Path) -> list[bytes]:
    """Return the payloads of a TFRecord file, checking both CRCs of each.

    Raises:
      ValueError: if a record is truncated or a checksum does not match.
    """
    data, out, at = Path(path).read_bytes(), [], 0
    while at < len(data):
        if at + 12 > len(data):
            raise ValueError(
                f"{path}: expected a 12-byte record header at {at}, got EOF."
            )
        length = data[at : at + 8]
        (size,) = struct.unpack("<Q", length)
        (crc,) = struct.unpack("<I", data[at + 8 : at + 12])
        payload = data[at + 12 : at + 12 + size]
        (pcrc,) = struct.unpack(
            "<I", data[at + 12 + size : at + 16 + size] or b"\0" * 4
        )
        if crc != masked_crc(length) or pcrc != masked_crc(payload):
            raise ValueError(
                f"{path}: expected valid CRCs at byte {at}, got a mismatch."
            )
        out.append(payload)
        at += 16 + size
    return out


def _fields(data: bytes):
    """Yield (field number, wire type, value) of a protobuf message."""
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _read_varint(data, at)
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        else:  # 2: length-delimited
            size, at = _read_varint(data, at)
            value, at = data[at : at + size], at + size
        yield number, wire, value


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def read_scalars(path: str | Path) -> list[tuple[float, int, str, float]]:
    """Decode the scalar events of an event file: (wall_time, step, tag, value)."""
    out = []
    for record in read_records(path):
        event = {n: v for n, _, v in _fields(record)}
        if 5 not in event:
            continue  # the file-version event
        wall_time = struct.unpack("<d", event[1])[0]
        for _, _, value in _fields(event[5]):
            entry = {n: v for n, _, v in _fields(value)}
            scalar = struct.unpack("<f", entry[2])[0]
            out.append((wall_time, event.get(2, 0), entry[1].decode(), scalar))
    return out


# -- tags: how a run's scalars are grouped into TensorBoard charts ------------

_NOT_METRICS = ("epoch", "step", "time_s")  # counters and timing, not curves
_SPLITS = ("train", "val", "test")
_OWN_TAGS = {"lr": "lr", "skipped_steps": "skipped_steps"}  # run-level scalars


def tag(key: str) -> str | None:
    """The TensorBoard tag of a record key, or None for keys that are not metrics.

    TensorBoard draws one chart per tag prefix (the part before "/"), so
    `<split>_<name>` becomes `<name>/<split>`: train and validation overlay in
    one chart, as Keras users expect. The learning rate is `lr`. Other
    unprefixed keys are a task's quality measures (the GAN's `modes`,
    `confidence`, ...) and share the `quality/` section.

    Example:
      >>> [tag(k) for k in ("train_loss", "val_accuracy", "train_d_loss", "lr")]
      ['loss/train', 'accuracy/val', 'd_loss/train', 'lr']
      >>> tag("modes"), tag("time_s")
      ('quality/modes', None)
    """
    if key in _NOT_METRICS:
        return None
    split, _, name = key.partition("_")
    if split in _SPLITS and name:
        return f"{name}/{split}"
    return _OWN_TAGS.get(key, f"quality/{key}")


def record_scalars(record: dict) -> dict[str, float]:
    """The loggable scalars of a per-epoch record, under their `tag`s.

    Example:
      >>> record_scalars({"epoch": 2, "step": 40, "train_loss": 0.5, "note": "x"})
      {'loss/train': 0.5}
    """
    return {
        tag(k): float(v)
        for k, v in record.items()
        if tag(k) and isinstance(v, int | float) and not isinstance(v, bool)
    }


# -- per-step scalars ----------------------------------------------------------

_STEP_LOSSES = ("loss", "d_loss", "g_loss")  # the per-step curves worth a sync


def step_logger(writer: EventWriter, every: int) -> Callback:
    """A `Callback` writing each `every`-th step's losses as `<loss>/train_step`.

    Tags are `loss/train_step` (and `d_loss/train_step`, `g_loss/train_step`
    for a GAN), in the same charts as the epoch means (`loss/train`). The
    device scalars are read only on logged steps, so the other steps keep
    their asynchronous dispatch. The step number is the run's global step
    (the `step` of metrics.jsonl): read from the state once, on the first
    call, then counted on the host, and re-read on every logged step.

    Args:
      writer: The run's `EventWriter`.
      every: Log every `every` global steps. Must be > 0.

    Raises:
      TypeError: if `every` is not an int.
      ValueError: if `every` is not > 0.

    Example:
      >>> import tempfile
      >>> cb = step_logger(EventWriter(tempfile.mkdtemp()), every=100)
    """
    _checks.positive_int("step_logger", "every", every)
    last = []  # the global step of the latest call; host-side, so no sync

    def on_step(end: StepEnd) -> None:
        step = last[0] + 1 if last else int(end.state.step)  # one sync, at start
        if step % every == 0:
            step = int(end.state.step)  # the state's own count, written as is
            losses = {k: v for k, v in end.metrics.items() if k in _STEP_LOSSES}
            writer.scalars(step, {f"{k}/train_step": v for k, v in losses.items()})
        last[:] = [step]

    return Callback(on_step=on_step)
