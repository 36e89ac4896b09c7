"""The bundled 8x8 handwritten digits (UCI optdigits test set; see README.md).

The file ships inside the package, so `load_digits` needs no network and works
from an installed wheel. Source, license and attribution: `jnn/data/README.md`.
"""

import gzip
import importlib.resources
import io

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset

DIGITS_FILE = "digits.csv.gz"
DIGITS_MAX = 16.0  # pixels are counts of set bits in 4x4 blocks: 0..16
NUM_DIGITS = 1797
_PIXELS = 64  # 8 x 8, then one label column


def load_digits() -> Dataset:
    """Load the 1,797 bundled 8x8 digit images with their labels.

    Pixels are kept raw (0..16); normalise them with `jnn.data.normalize`.

    Returns:
      Dataset with x (1797, 8, 8, 1) float32 in [0, 16] (channels-last) and
      y (1797,) int32 in [0, 9].

    Raises:
      ValueError: if the bundled file is damaged (wrong row count or width).

    Example:
      >>> data = load_digits()
      >>> data.x.shape, data.x.dtype, data.y[:5]
      ((1797, 8, 8, 1), dtype('float32'), array([0, 1, 2, 3, 4], dtype=int32))
    """
    table = _read_table()
    x = table[:, :_PIXELS].reshape(-1, 8, 8, 1)  # (N, 64) -> (N, H, W, C)
    return Dataset(x.astype(np.float32), table[:, _PIXELS].astype(np.int32))


def _read_table() -> np.ndarray:
    resource = importlib.resources.files("jnn.data").joinpath(DIGITS_FILE)
    return _parse_table(resource.read_bytes())


def _parse_table(compressed: bytes) -> np.ndarray:
    """Parse the gzip CSV into an int table, refusing any other row count."""
    text = gzip.decompress(compressed)
    table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (NUM_DIGITS, _PIXELS + 1):
        raise _checks.value_error(
            f"load_digits ({DIGITS_FILE})",
            f"a table of shape {(NUM_DIGITS, _PIXELS + 1)} (64 pixels, 1 label)",
            f"shape {_checks.fmt_shape(table.shape)}",
            "reinstall jnn; the bundled file is damaged",
        )
    return table
