"""`load_arrays`: the user's own .npz / .csv data, from files written per test."""

import io
import zipfile

import numpy as np
import pytest

from jnn import JnnTypeError, JnnValueError
from jnn.data.arrays import load_arrays
from jnn.data.dataset import Dataset
from jnn.data.splitting import split


def _write(tmp_path, name, content):
    """Write `content` (dict -> np.savez, bytes, str; None: nothing) to a file."""
    path = tmp_path / name
    if isinstance(content, dict):
        np.savez(path, **content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    return path


def _load(path, **options):
    return load_arrays(
        path, **{"val_fraction": 0.0, "test_fraction": 0.0, "seed": 0, **options}
    )


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz_members(**members) -> bytes:
    # A fixed timestamp: the bytes are a test id, which pytest-xdist's workers
    # must collect identically (the clock's 2-second tick once split them).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(member, payload)
    return buffer.getvalue()


def _order(part, column=(slice(None), 0)):
    """Sample ids stored in the first value of each sample, as ints."""
    return part.x[column].astype(int)


def test_npz_uint8_images_become_float32_and_are_split_stratified(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 28, 28, 1), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(12)  # pixel (0, 0) holds the sample id
    y = np.arange(12) % 3  # 4 samples per class
    path = _write(tmp_path, "images.npz", {"x": x, "y": y})
    (train, val, test), num_classes = _load(
        path, val_fraction=1 / 3, test_fraction=0.25, seed=3
    )
    assert num_classes == 3
    # test: round(0.25 * 12) = 3, one per class; val: 9 / 3 = 3; train: 6.
    assert [len(p.y) for p in (train, val, test)] == [6, 3, 3]
    assert np.bincount(test.y).tolist() == np.bincount(val.y).tolist() == [1, 1, 1]
    ids = [_order(p, (slice(None), 0, 0, 0)) for p in (train, val, test)]
    assert sorted(np.concatenate(ids).tolist()) == list(range(12))
    for part, idx in zip((train, val, test), ids, strict=True):
        assert part.x.dtype == np.float32 and part.y.dtype == np.int32
        np.testing.assert_array_equal(part.x, x[idx].astype(np.float32))
        np.testing.assert_array_equal(part.y, y[idx])
    # Exactly `split` of the float32 data with the same seed.
    expected = split(Dataset(x.astype(np.float32), y), 1 / 3, 0.25, seed=3)
    for part, want in zip((train, val, test), expected, strict=True):
        np.testing.assert_array_equal(part.x, want.x)


@pytest.mark.parametrize(
    ("y", "target_shape"),
    [
        (np.arange(10, dtype=np.float64) * 0.5, (1,)),
        (np.arange(10, dtype=np.float64), (1,)),  # whole floats: still regression
        (np.arange(20, dtype=np.float32).reshape(10, 2), (2,)),
    ],
)
def test_npz_float_targets_are_regression(tmp_path, y, target_shape):
    x = np.stack([np.arange(10.0), np.ones(10)], axis=1)  # float64, id in column 0
    path = _write(tmp_path, "reg.npz", {"x": x, "y": y})
    (train, val, test), num_classes = _load(path, test_fraction=0.2)
    assert num_classes is None
    assert [len(p.x) for p in (train, val, test)] == [8, 0, 2]
    for part in (train, test):
        idx = _order(part)
        assert part.x.dtype == part.y.dtype == np.float32
        assert part.y.shape == (len(idx), *target_shape)
        np.testing.assert_array_equal(part.x, x[idx].astype(np.float32))
        np.testing.assert_array_equal(part.y, y[idx].reshape(len(idx), -1))


def test_npz_provided_splits_are_kept_in_file_order(tmp_path):
    arrays = {
        "x": np.arange(8, dtype=np.float32).reshape(4, 2),
        "y": np.array([0, 1, 2, 0]),
        "x_val": np.full((2, 2), 7, np.int16),
        "y_val": np.array([1, 1]),
        "x_test": np.full((3, 2), 0.5),
        "y_test": np.array([4, 0, 2]),  # class 4 only in test: 5 classes
    }
    path = _write(tmp_path, "given.npz", arrays)
    splits, num_classes = _load(path, seed=9)
    assert num_classes == 5
    for part, key in zip(splits, ("", "_val", "_test"), strict=True):
        assert part.x.dtype == np.float32 and part.y.dtype == np.int32
        np.testing.assert_array_equal(part.x, arrays[f"x{key}"].astype(np.float32))
        np.testing.assert_array_equal(part.y, arrays[f"y{key}"])


@pytest.mark.parametrize("given", ["val", "test"])
def test_npz_one_provided_split_and_one_carved(tmp_path, given):
    x = np.arange(10, dtype=np.float32)[:, None]
    extra = {f"x_{given}": np.full((3, 1), -1.0), f"y_{given}": np.zeros(3)}
    path = _write(tmp_path, "one.npz", {"x": x, "y": x[:, 0] * 2, **extra})
    options = {"test_fraction": 0.2} if given == "val" else {"val_fraction": 0.3}
    (train, val, test), _ = _load(path, **options)
    provided, carved = (val, test) if given == "val" else (test, val)
    # carved: round(0.2 * 10) = 2 test, or round(0.3 * 10) = 3 val.
    assert (len(train.y), len(carved.y)) == ((8, 2) if given == "val" else (7, 3))
    np.testing.assert_array_equal(provided.x, np.full((3, 1), -1.0, np.float32))
    ids = np.concatenate([_order(train), _order(carved)])
    assert sorted(ids.tolist()) == list(range(10))
    np.testing.assert_array_equal(carved.y[:, 0], 2 * _order(carved))


def test_csv_classification_reads_the_label_column_by_name(tmp_path):
    text = "\ufeffid,width,label,height\n0,1.5,2,10\n1,2.5,0,20\n2,-3,1,30\n\n"
    path = _write(tmp_path, "table.csv", text)  # Excel BOM and a trailing blank line
    (train, val, test), num_classes = _load(path, label_column="label")
    assert num_classes == 3 and len(val.y) == len(test.y) == 0
    order = np.argsort(train.x[:, 0])
    expected = np.array([[0, 1.5, 10], [1, 2.5, 20], [2, -3, 30]], np.float32)
    np.testing.assert_array_equal(train.x[order], expected)
    np.testing.assert_array_equal(train.y[order], np.array([2, 0, 1], np.int32))
    assert train.x.dtype == np.float32 and train.y.dtype == np.int32


@pytest.mark.parametrize("labels", [("0.5", "2", "-1"), ("1.0", "2.0", "3.0")])
def test_csv_non_integer_label_cells_make_float_targets(tmp_path, labels):
    rows = "".join(f"{i},{label}\n" for i, label in enumerate(labels))
    path = _write(tmp_path, "reg.csv", "x0,target\n" + rows)
    (train, _, _), num_classes = _load(path, label_column="target")
    order = np.argsort(train.x[:, 0])
    assert num_classes is None and train.y.dtype == np.float32
    expected = np.array([float(label) for label in labels], np.float32)[:, None]
    np.testing.assert_array_equal(train.y[order], expected)


def test_sample_shape_makes_sequences_for_npz_and_csv(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 40))
    x[:, 0] = np.arange(6)  # time step 0 holds the sample id
    y = rng.normal(size=6)
    arrays = {"x": x, "y": y, "x_val": x[:2], "y_val": y[:2]}
    npz = _write(tmp_path, "seq.npz", arrays)
    header = ",".join(f"t{i}" for i in range(40)) + ",next\n"
    rows = "".join(
        ",".join(map(str, [*r.tolist(), t])) + "\n"
        for r, t in zip(x, y.tolist(), strict=True)
    )
    csv_path = _write(tmp_path, "seq.csv", header + rows)
    for path, column in ((npz, ""), (csv_path, "next")):
        (train, val, _), _ = _load(path, label_column=column, sample_shape=(40, 1))
        idx = _order(train, (slice(None), 0, 0))
        assert train.x.shape == (len(x), 40, 1)
        np.testing.assert_array_equal(train.x, x[idx, :, None].astype(np.float32))
        np.testing.assert_array_equal(train.y[:, 0], y[idx].astype(np.float32))
    assert val.x.shape == (0, 40, 1)  # the CSV has no val split
    (_, val, _), _ = _load(npz, sample_shape=[40, 1])
    np.testing.assert_array_equal(val.x, x[:2, :, None].astype(np.float32))


def test_file_errors_name_the_path_the_field_and_the_choices(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"^load_arrays\('[^']*none\.npz'\): expected `data.path` naming an "
        r"existing file, got no such file\.$",
    ):
        _load(tmp_path / "none.npz")
    for name, got in (("data.txt", "'.txt'"), ("data", "no extension")):
        with pytest.raises(
            JnnValueError,
            match=rf"expected `data.path` ending in one of \['.npz', '.csv'\], got {got}"
            r"\. Hint: save arrays with np.savez",
        ):
            _load(_write(tmp_path, name, "1,2"))


V, T = JnnValueError, JnnTypeError
X, Y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
OK = {"x": X, "y": Y}
NAN_X = X.copy()
NAN_X[2, 0] = np.nan
K = r"\(keys x, y\): expected "  # `validate` names the .npz split
DAMAGED = r"expected `x` as a .npy array, got damaged data\.$"


def _with(**arrays):
    return {**OK, **arrays}


NPZ_ERRORS = [  # (content of data.npz, error, match)
    (b"", V, r"expected a non-empty file, got 0 bytes"),
    ("hello", V, r"an .npz archive .*, got other data\. Hint: save with np.savez"),
    (_npy(X), V, r"got a single .npy array"),
    (
        _with(w=X),
        V,
        r"only the keys \['x', 'y', .*'y_test'\], got unknown keys \['w'\]",
    ),
    ({"x": X}, V, r"the keys 'x' and 'y' .*got keys \['x'\]"),
    ({}, V, r"the keys 'x' and 'y' .*got keys \[\]"),
    (_with(x_val=X), V, r"`x_val` and `y_val` together .*got only `x_val`"),
    (_with(y_test=Y), V, r"`x_test` and `y_test` together .*got only `y_test`"),
    (_with(x=np.full((4, 1), None)), T, r"`x` as a numeric array, got an object array"),
    pytest.param(_npz_members(x=b"\x93NUMPY bad", y=_npy(Y)), V, DAMAGED, id="bad-npy"),
    # NumPy would return these bytes as they are
    pytest.param(_npz_members(x=b"text", y=_npy(Y)), V, DAMAGED, id="text"),
    (_with(x=np.float32(1)), V, r"`x` of shape \(N, \.\.\.\), got a scalar"),
    (_with(x=X > 0), T, r"`x` with a float or integer dtype, got dtype bool"),
    (_with(x_val=X + 1j, y_val=Y), T, r"`x_val` with a float .*got dtype complex64"),
    (_with(x=np.full((4, 2), "a")), T, r"`x` with a float .*got dtype <U1"),
    (_with(y=Y > 0), T, r"`y` with an integer \(class labels\) or float .*dtype bool"),
    (_with(y=Y[:3]), V, K + r"one target per sample \(4\), got y of shape \(3,\)"),
    ({"x": X[:0], "y": Y[:0]}, V, K + r"a non-empty data set, got 0 samples"),
    (_with(x=X[:, 0]), V, r"`x` of shape \(N, \*F\), with a feature axis, got shape"),
    (_with(x_val=X[:, :1], y_val=Y), V, r"`x_val` holding floats .*\(2,\), like tr"),
    (_with(x_val=X, y_val=Y * 1.0), V, r"`y_val` holding integers .*, got floats"),
    (_with(x=NAN_X), V, K + r"all-finite `x`"),
    (_with(y=np.array([0, np.inf, 0, 0])), V, K + r"all-finite `y`, .*indices \[1\]"),
    (_with(y=np.array([0, -1, 1, -2])), V, K + r"integer labels in \[0, 2\), got 2"),
    (_with(x_val=X, y_val=-Y), V, r"\(keys x_val, y_val\): .* indices \[1, 3\]\.$"),
    (_with(y=np.array([0, 2**31, 0, 0])), V, r"labels <= 2147483646 \(int32\), got"),
    (_with(y=np.zeros((4, 2), int)), V, K + r"labels of shape \(N,\), got shape"),
]
# The fractions' sum and the seed are checked by `split` (and by `load`'s config
# check first); a provided split's fraction is refused, since it is never read.
OPTION_ERRORS = [  # (content of data.npz, options, error, match)
    (OK, {"label_column": "y"}, V, r"`data.label_column` = '' for .npz .*got 'y'"),
    (OK, {"sample_shape": (2, 2)}, V, r"`data.sample_shape` of 2 values, as in"),
    (_with(x_val=X, y_val=Y), {"val_fraction": 0.2}, V, r"`data.val_fraction` = 0"),
    (_with(x_test=X, y_test=Y), {"test_fraction": 0.5}, V, r"`data.test_fraction` ="),
    (OK, {"sample_shape": "2"}, T, r"`data.sample_shape` as a tuple of ints, got '2'"),
    (OK, {"sample_shape": (2, 0)}, V, r"`data.sample_shape\[1\]` > 0, got 0"),
    (OK, {"val_fraction": 1.5}, V, r"`data.val_fraction` in \[0, 1\), got 1.5"),
    (OK, {"test_fraction": -0.1}, V, r"`data.test_fraction` in \[0, 1\), got -0.1"),
    (OK, {"val_fraction": 0.5, "test_fraction": 0.5}, V, r"`val_fraction` \+ `test"),
    (OK, {"seed": -1}, V, r"`seed` >= 0, got -1"),
]
R = r" \(from 1 below the header; file line 3\), got "  # data row 2
CSV_ERRORS = [  # (content of table.csv, label_column, match)
    ("a,label\n1,0\n", "", r"naming a column of the header \['a', 'label'\], got ''"),
    ("a,label\n1,0\n", "lable", r"got 'lable'\. Hint: did you mean 'label'\?"),
    ("1,2,0\n", "label", r"\['1', '2', '0'\], got 'label'\. Hint: the first line"),
    (",".join(f"f{i}" for i in range(20)) + "\n", "y", r"'f11'\] \.\.\., got 'y'"),
    ("\n1,0\n", "label", r"of the header \[\], got 'label'"),
    ("a,a,label\n1,2,0\n", "label", r"distinct CSV column names, got \['a'\]"),
    ("label\n1\n", "label", r"at least one feature column .*, got \['label'\]"),
    ("a,label\n\n", "label", r"at least one data row below the header, got 0"),
    (
        "a,label\n1,0\n2\n",
        "label",
        r"2 cells \(one per header column\) in data row 2" + R,
    ),
    ("a,b,label\n1,2,0\n3,x,1\n", "label", r"in column 'b' of data row 2" + R + "'x'"),
    ("a,b,label\n1,2,0\n3,,1\n", "label", r"column 'b' of data row 2.*, got ''"),
    ("a,b,label\n1,2,0\n3,nan,1\n", "label", r"column 'b' of data row 2.*, got 'nan'"),
    ("a,label\n1,0\n2,cat\n", "label", r"column 'label' of data row 2" + R + "'cat'"),
    (b"a,label\n\xff,0\n", "label", r"UTF-8 text, got undecodable byte at offset 8"),
    ("a,label\n1,0\n2,-1\n", "label", r"\(sample i is data row i \+ 1\): .*\[1\]\.$"),
]


@pytest.mark.parametrize(("content", "error", "match"), NPZ_ERRORS)
def test_npz_errors_name_the_file_and_the_key(tmp_path, content, error, match):
    path = _write(tmp_path, "data.npz", content)
    with pytest.raises(error, match=rf"^load_arrays\('[^']*data\.npz'\).*{match}"):
        _load(path)


@pytest.mark.parametrize(("content", "options", "error", "match"), OPTION_ERRORS)
def test_option_errors_are_refused(tmp_path, content, options, error, match):
    path = _write(tmp_path, "data.npz", content)
    with pytest.raises(error, match=match):
        _load(path, **options)


@pytest.mark.parametrize(("content", "label_column", "match"), CSV_ERRORS)
def test_csv_errors_name_the_row_column_and_value(
    tmp_path, content, label_column, match
):
    path = _write(tmp_path, "table.csv", content)
    with pytest.raises(V, match=rf"^load_arrays\('[^']*table\.csv'\).*{match}"):
        _load(path, label_column=label_column)


def test_full_messages_for_a_provided_split_and_a_sample_shape(tmp_path):
    path = _write(tmp_path, "data.npz", _with(x_val=X, y_val=Y))
    with pytest.raises(
        V,
        match=r"\): expected `data.val_fraction` = 0, as the file provides the val "
        r"split \(`x_val`, `y_val`\), got 0.2\. Hint: set data.val_fraction=0, or "
        r"drop x_val/y_val to carve val from x/y\.$",
    ):
        _load(path, val_fraction=0.2)
    with pytest.raises(
        V,
        match=r"\): expected `data.sample_shape` of 2 values, as in each stored "
        r"sample of `x` \(2,\), got \(2, 2\) of 4 values\.$",
    ):
        _load(path, sample_shape=(2, 2))
    nan = _write(tmp_path, "nan.npz", _with(x=NAN_X))
    with pytest.raises(
        V,
        match=r"\(keys x, y\): expected all-finite `x`, got NaN/Inf in 1 samples, "
        r"at sample indices \[2\]\.$",
    ):
        _load(nan)
