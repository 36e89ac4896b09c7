"""Your own data: `load_arrays` reads an .npz or .csv file into raw splits.

It serves `data.name = "arrays"`. Errors name the file, the key (or the CSV
row and column) and the config field to change, as for the built-in sets.
"""

import csv
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset, validate
from jnn.data.splitting import split

EXTENSIONS = (".npz", ".csv")
SPLIT_KEYS = {  # split -> its (inputs, targets) keys in an .npz
    "train": ("x", "y"),
    "val": ("x_val", "y_val"),
    "test": ("x_test", "y_test"),
}
KEYS = tuple(key for pair in SPLIT_KEYS.values() for key in pair)
_FIELDS = {"val": "data.val_fraction", "test": "data.test_fraction"}
_MAX_LABEL = int(np.iinfo(np.int32).max) - 1  # labels become int32
_LISTED = 12  # header columns named in an error; more would bury the message


def load_arrays(
    path: str | os.PathLike,
    *,
    label_column: str = "",
    sample_shape: Sequence[int] = (),
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> tuple[tuple[Dataset, Dataset, Dataset], int | None]:
    """Read the user's .npz or .csv file into raw (train, val, test) splits.

    x: float or integer, any per-sample shape (N, ...); integers (e.g. uint8
    pixels) and float64 become float32. y: integers (N,) are class labels, and
    num_classes = the largest label over all splits + 1; floats are regression
    targets, (N,) becoming (N, 1), even if all values are whole (to classify,
    store integer labels). Splits the file provides are kept as stored (file
    order); missing ones are carved from x/y by `jnn.data.split` (seeded,
    stratified). A CSV's feature columns, in header order, form x (N, F) and
    its label column y: integer labels if every cell is an integer, else
    float targets.

    Args:
      path: `data.path`: an .npz with keys x, y and optionally x_val/y_val,
        x_test/y_test; or a .csv with a header row, then one sample per row.
      label_column: `data.label_column`, the CSV's label column; "" for .npz.
      sample_shape: `data.sample_shape`, e.g. (40, 1): every split's samples
        are reshaped to it; () keeps the stored shape.
      val_fraction: Share of the non-test samples for val (0 if provided).
      test_fraction: Share of all samples for test (0 if provided).
      seed: Seed of the split.

    Returns:
      ((train, val, test) `Dataset`s, not normalised: x float32, y int32
      labels or float32 targets), num_classes or None for regression.

    Raises:
      FileNotFoundError: if `data.path` names no file.
      ValueError: for an unsupported extension; an empty or damaged file;
        unknown, missing or unpaired .npz keys; `data.label_column` not in the
        CSV header (or set for an .npz); a repeated or missing CSV column; a
        CSV row of the wrong width or a cell that is not a finite number (data
        rows count from 1 below the header); a scalar array; a
        `data.sample_shape` of another size; x without a feature axis; splits
        of different per-sample shapes or target kinds; a provided split with
        a nonzero fraction; labels beyond int32; an out-of-range option; and
        (from `validate`, sample i being the file's i-th) empty or
        length-mismatched splits, NaN/Inf in x or targets, labels negative or
        not of shape (N,).
      TypeError: for an array dtype other than float or integer (bool,
        complex, strings; pickled object arrays are never loaded), or a
        `data.sample_shape` that is not a tuple of ints.

    Example:
      >>> import tempfile
      >>> path = Path(tempfile.mkdtemp()) / "mine.npz"
      >>> x = np.arange(24, dtype=np.uint8).reshape(6, 4)
      >>> np.savez(path, x=x, y=np.array([0, 1, 0, 1, 0, 1]))
      >>> (train, val, test), num_classes = load_arrays(
      ...     path, sample_shape=(4, 1), val_fraction=0.0, test_fraction=0.5, seed=0
      ... )
      >>> train.x.shape, train.x.dtype, len(val.y), len(test.y), num_classes
      ((3, 4, 1), dtype('float32'), 0, 3, 2)
    """
    path = Path(path)
    where = f"load_arrays('{path}')"
    fractions = {"val": val_fraction, "test": test_fraction}
    shape = _check_options(where, sample_shape, fractions)
    arrays = _read(where, path, label_column)
    _check_fractions(where, arrays, fractions)
    parts = _parts(where, arrays, shape)
    num_classes = _num_classes(where, parts)
    parts = _checked(where, parts, num_classes, path.suffix.lower() == ".csv")
    return _splits(parts, val_fraction, test_fraction, seed), num_classes


def _check_options(where, sample_shape, fractions):
    """Check the options eagerly; return `sample_shape` as a tuple."""
    if not isinstance(sample_shape, Sequence) or isinstance(sample_shape, str):
        raise _checks.type_error(
            where, "`data.sample_shape` as a tuple of ints", repr(sample_shape)
        )
    for i, size in enumerate(sample_shape):
        _checks.positive_int(where, f"data.sample_shape[{i}]", size)
    for name, fraction in fractions.items():  # their sum and the seed: `split`
        _checks.probability(where, _FIELDS[name], fraction)
    return tuple(sample_shape)


def _read(where: str, path: Path, label_column: str) -> dict[str, np.ndarray]:
    """Return the file's arrays by .npz key (a CSV gives `x` and `y`)."""
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise _checks.value_error(
            where,
            f"`data.path` ending in one of {list(EXTENSIONS)}",
            repr(suffix) if suffix else "no extension",
            "save arrays with np.savez(path, x=x, y=y), or write a CSV with a header",
        )
    if not path.is_file():
        found = _checks.message("`data.path` naming an existing file", "no such file")
        raise FileNotFoundError(f"{where}: {found}")
    if path.stat().st_size == 0:
        raise _checks.value_error(where, "a non-empty file", "0 bytes")
    if suffix == ".csv":
        return _read_csv(where, path, label_column)
    if label_column:
        raise _checks.value_error(
            where, "`data.label_column` = '' for .npz (labels: `y`)", repr(label_column)
        )
    return _read_npz(where, path)


def _read_npz(where: str, path: Path) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile):
        archive = None  # pickled or unknown data: never unpickled
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _checks.value_error(
            where,
            "an .npz archive (np.savez or np.savez_compressed)",
            "a single .npy array" if isinstance(archive, np.ndarray) else "other data",
            "save with np.savez(path, x=x, y=y)",
        )
    with archive:
        _check_keys(where, archive.files)
        return {key: _load_key(where, archive, key) for key in archive.files}


def _check_keys(where: str, keys: list[str]) -> None:
    unknown = sorted(set(keys) - set(KEYS))
    if unknown:
        raise _checks.value_error(
            where,
            f"only the keys {list(KEYS)}",
            f"unknown keys {unknown}",
            "rename them or save them elsewhere; nothing is dropped silently",
        )
    if "x" not in keys or "y" not in keys:
        raise _checks.value_error(
            where,
            "the keys 'x' and 'y' (the training inputs and targets)",
            f"keys {sorted(keys)}",
            "save with np.savez(path, x=x, y=y)",
        )
    for x_key, y_key in SPLIT_KEYS.values():
        if (x_key in keys) != (y_key in keys):
            raise _checks.value_error(
                where,
                f"`{x_key}` and `{y_key}` together (one split's inputs and targets)",
                f"only `{x_key if x_key in keys else y_key}`",
            )


def _load_key(where: str, archive, key: str) -> np.ndarray:
    try:
        array = archive[key]  # bytes, not an array, if the member is not .npy
    except ValueError as error:
        if "pickle" in str(error):  # NumPy refuses object arrays without pickle
            got = "an object array (needs pickle, which jnn never loads)"
            raise _checks.type_error(
                where, f"`{key}` as a numeric array", got
            ) from None
        array = None
    if not isinstance(array, np.ndarray):
        raise _checks.value_error(where, f"`{key}` as a .npy array", "damaged data")
    if array.ndim == 0:
        raise _checks.value_error(where, f"`{key}` of shape (N, ...)", "a scalar")
    return array


def _read_csv(where: str, path: Path, label_column: str) -> dict[str, np.ndarray]:
    """Parse a headed CSV into x (N, F) float32 and y (N,) int64 or float64."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:  # -sig: Excel BOM
            reader = csv.reader(file)
            header = next(reader, [])
            label = _label_index(where, header, label_column)
            features, labels = _csv_rows(where, reader, header, label)
    except UnicodeDecodeError as error:
        raise _checks.value_error(
            where, "UTF-8 text", f"undecodable byte at offset {error.start}"
        ) from None
    if not labels:
        raise _checks.value_error(where, "at least one data row below the header", 0)
    return {"x": np.array(features, np.float32), "y": _csv_targets(labels)}


def _label_index(where: str, header: list[str], label_column: str) -> int:
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise _checks.value_error(where, "distinct CSV column names", repeated)
    if label_column not in header:
        listed = f"{header[:_LISTED]}{' ...' if len(header) > _LISTED else ''}"
        raise _checks.value_error(
            where,
            f"`data.label_column` naming a column of the header {listed}",
            repr(label_column),
            _checks.did_you_mean(label_column, header)
            or "the first line of the file must name the columns",
        )
    if len(header) < 2:
        raise _checks.value_error(
            where, "at least one feature column besides the label", f"{header}"
        )
    return header.index(label_column)


def _csv_rows(where, reader, header, label) -> tuple[list, list[str]]:
    names = header[:label] + header[label + 1 :]
    features, labels = [], []
    for row in reader:
        if not row:
            continue  # a blank line, e.g. at the end of the file
        number, line = len(labels) + 1, reader.line_num
        ref = f"data row {number} (from 1 below the header; file line {line})"
        if len(row) != len(header):
            raise _checks.value_error(
                where, f"{len(header)} cells (one per header column) in {ref}", len(row)
            )
        _numbers(where, [header[label]], [row[label]], ref)
        labels.append(row[label])
        features.append(_numbers(where, names, row[:label] + row[label + 1 :], ref))
    return features, labels


def _numbers(where, names, cells, ref) -> list[float]:
    """Parse one row's cells, naming the first that is not a finite number."""
    values = [_float(cell) for cell in cells]
    for name, cell, value in zip(names, cells, values, strict=True):
        if not math.isfinite(value):
            raise _checks.value_error(
                where,
                f"a finite number in column '{name}' of {ref}",
                repr(cell),
                "fill in or drop missing values before loading",
            )
    return values


def _float(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return math.nan


def _csv_targets(labels: list[str]) -> np.ndarray:
    """Integer labels if every cell reads as an int, else float targets."""
    try:
        return np.array([int(cell) for cell in labels], np.int64)
    except ValueError:
        return np.array([float(cell) for cell in labels], np.float64)


def _check_fractions(where, arrays, fractions) -> None:
    """A split the file provides leaves its fraction unread: it must be 0."""
    for name, field in _FIELDS.items():
        x_key, y_key = SPLIT_KEYS[name]
        if x_key in arrays and fractions[name] != 0:
            raise _checks.value_error(
                where,
                f"`{field}` = 0, as the file provides the {name} split "
                f"(`{x_key}`, `{y_key}`)",
                fractions[name],
                f"set {field}=0, or drop {x_key}/{y_key} to carve {name} from x/y",
            )


def _parts(where, arrays, sample_shape) -> dict[str, Dataset]:
    """Convert and reshape every provided split, checking they agree."""
    parts = {}
    for name, (x_key, y_key) in SPLIT_KEYS.items():
        if x_key not in arrays:
            continue
        x = _inputs(where, x_key, arrays[x_key], sample_shape)
        y = _targets(where, y_key, arrays[y_key])
        parts[name] = Dataset(x, y)
    _check_alike(where, parts)
    return parts


def _inputs(where, key, x, sample_shape) -> np.ndarray:
    if x.dtype.kind not in "fiu":
        raise _checks.type_error(
            where,
            f"`{key}` with a float or integer dtype",
            f"dtype {x.dtype}",
            "convert it explicitly before saving, e.g. x.astype(np.float32)",
        )
    x = x.astype(np.float32, copy=False)  # documented: ints and float64 too
    if sample_shape:
        stored, size = x.shape[1:], math.prod(sample_shape)
        if size != math.prod(stored):
            raise _checks.value_error(
                where,
                f"`data.sample_shape` of {math.prod(stored)} values, as in each "
                f"stored sample of `{key}` {_checks.fmt_shape(stored)}",
                f"{_checks.fmt_shape(sample_shape)} of {size} values",
            )
        x = x.reshape(len(x), *sample_shape)  # (N, *stored) -> (N, *sample_shape)
    if x.ndim < 2:
        raise _checks.value_error(
            where,
            f"`{key}` of shape (N, *F), with a feature axis",
            f"shape {_checks.fmt_shape(x.shape)}",
            "store x[:, None], or set data.sample_shape = [1]",
        )
    return x


def _targets(where, key, y) -> np.ndarray:
    if y.dtype.kind not in "fiu":
        raise _checks.type_error(
            where,
            f"`{key}` with an integer (class labels) or float (regression) dtype",
            f"dtype {y.dtype}",
            "store class ids explicitly, e.g. y.astype(np.int32)",
        )
    if y.dtype.kind in "iu":
        return y
    y = y.astype(np.float32, copy=False)  # documented: float64 targets too
    return y[:, None] if y.ndim == 1 else y  # (N,) -> (N, 1)


def _check_alike(where, parts) -> None:
    """Every split must match train's per-sample shapes and target kind."""
    train = parts["train"]
    for name, part in parts.items():
        for key, array, like in zip(SPLIT_KEYS[name], part, train, strict=True):
            if _kind(array) != _kind(like):
                raise _checks.value_error(
                    where, f"`{key}` holding {_kind(like)}, like train", _kind(array)
                )


def _kind(array: np.ndarray) -> str:
    kind = "floats" if array.dtype.kind == "f" else "integers"
    return f"{kind} of per-sample shape {_checks.fmt_shape(array.shape[1:])}"


def _num_classes(where, parts) -> int | None:
    """Largest label over all splits + 1; None for float (regression) targets."""
    if parts["train"].y.dtype.kind == "f":
        return None
    top = max(int(part.y.max(initial=-1)) for part in parts.values())
    if top > _MAX_LABEL:
        raise _checks.value_error(where, f"labels <= {_MAX_LABEL} (int32)", top)
    return max(top + 1, 1)  # all labels negative: `validate` names them


def _checked(where, parts, num_classes, csv_file) -> dict[str, Dataset]:
    """Validate each split as stored, so sample indices are file positions."""
    for name, part in parts.items():
        note = "sample i is data row i + 1" if csv_file else "keys {}, {}"
        validate(part, f"{where} ({note.format(*SPLIT_KEYS[name])})", num_classes)
    if num_classes is None:
        return parts
    return {name: Dataset(x, y.astype(np.int32)) for name, (x, y) in parts.items()}


def _splits(parts, val_fraction, test_fraction, seed):
    """Use the provided splits; carve the missing ones from train."""
    if "val" in parts and "test" in parts:
        return parts["train"], parts["val"], parts["test"]
    # A provided split's fraction is 0, so `split` leaves that part empty.
    train, val, test = split(parts["train"], val_fraction, test_fraction, seed)
    return train, parts.get("val", val), parts.get("test", test)
