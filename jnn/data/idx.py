"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), then each dimension as a big-endian uint32, then the values in
C order, big-endian. A `.gz` name means the whole file is gzip-compressed.
Every structural problem is reported with the file's path, because the usual
cause is a truncated or mislabelled download.
"""

import gzip
import math
import os
from pathlib import Path

import numpy as np

from jnn import _checks

# IDX type code -> big-endian NumPy dtype (the format's own table).
TYPE_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dtype.newbyteorder("="): code for code, dtype in TYPE_CODES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw, or gzip-compressed when the name ends in .gz).

    Args:
      path: The file, e.g. "mnist/train-images-idx3-ubyte.gz".

    Returns:
      A new, writable array in native byte order with the file's shape and
      dtype (uint8, int8, int16, int32, float32 or float64).

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: if the file is not valid gzip (for .gz), has a bad magic
        number or unknown type code, or its header or payload is too short
        or too long for the declared dimensions. The message names the file.

    Example:
      >>> import tempfile
      >>> path = Path(tempfile.mkdtemp()) / "a.idx"
      >>> _ = write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
      >>> read_idx(path)
      array([[0, 1, 2],
             [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    where = f"read_idx('{path}')"
    data = _read_bytes(where, path)
    dtype, shape = _parse_header(where, data)
    payload = memoryview(data)[4 + 4 * len(shape) :]
    expected = math.prod(shape) * dtype.itemsize
    if len(payload) != expected:
        raise _checks.value_error(
            where,
            f"{expected} payload bytes for shape {_checks.fmt_shape(shape)} "
            f"of {dtype.newbyteorder('=')}",
            f"{len(payload)} bytes",
            "the file is truncated or corrupt; download it again",
        )
    values = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a native-order copy


def _read_bytes(where: str, path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:  # BadGzipFile is an OSError
        raise _checks.value_error(
            where,
            "a gzip-compressed file (the name ends in .gz)",
            f"undecodable data ({error})",
            "the download is incomplete, or the file is not compressed: "
            "drop the .gz suffix",
        ) from None


def _parse_header(where: str, data: bytes) -> tuple[np.dtype, tuple[int, ...]]:
    """Return the (big-endian dtype, shape) declared by the IDX header."""
    if len(data) < 4 or data[:2] != b"\0\0":
        hint = (
            "the file is gzip-compressed: name it *.gz"
            if data[:2] == _GZIP_MAGIC
            else None
        )
        raise _checks.value_error(
            where,
            "an IDX magic number 00 00 <type> <ndim>",
            f"bytes {data[:4].hex(' ') or '(empty file)'}",
            hint,
        )
    code, ndim = data[2], data[3]
    if code not in TYPE_CODES:
        codes = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
        raise _checks.value_error(
            where, f"an IDX type code in {{{codes}}}", f"0x{code:02X}"
        )
    if len(data) < 4 + 4 * ndim:
        raise _checks.value_error(
            where,
            f"a header of {4 + 4 * ndim} bytes for {ndim} dimensions",
            f"a file of {len(data)} bytes",
            "the file is truncated; download it again",
        )
    shape = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    return TYPE_CODES[code], tuple(int(d) for d in shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write `array` as an IDX file, gzip-compressed when the name ends in .gz.

    Args:
      path: The file to create (parent directories must exist).
      array: A NumPy array of rank >= 1 with dtype uint8, int8, int16, int32,
        float32 or float64 (IDX has no 64-bit integers).

    Returns:
      The path written, as a `Path`.

    Raises:
      TypeError: if `array` is not a NumPy array or its dtype has no IDX code.
      ValueError: if `array` has rank 0 or more than 255 dimensions.
    """
    where = "write_idx"
    if not isinstance(array, np.ndarray):
        raise _checks.type_error(
            where, "`array` to be a NumPy array", type(array).__name__
        )
    code = _CODE_OF.get(array.dtype.newbyteorder("="))
    if code is None:
        raise _checks.type_error(
            where,
            "`array` with dtype uint8, int8, int16, int32, float32 or float64",
            f"dtype {array.dtype}",
            "cast explicitly, e.g. labels.astype(np.uint8)",
        )
    if not 1 <= array.ndim <= 255:
        raise _checks.value_error(
            where, "`array` of rank 1..255", f"shape {_checks.fmt_shape(array.shape)}"
        )
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    data = header + array.astype(TYPE_CODES[code]).tobytes()
    path = Path(path)
    # mtime=0 keeps .gz output byte-identical across runs.
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path
