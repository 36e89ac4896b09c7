"""IDX reading/writing, MNIST loading from small generated files, and download."""

import gzip
import hashlib
import urllib.error

import numpy as np
import pytest

from jnn import JnnTypeError, JnnValueError, data
from jnn.data import mnist

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _write_mnist(directory, sizes=(12, 5), suffix="", seed=0):
    """Write tiny MNIST-format files; return {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    written = {}
    for split_name, n in zip(("train", "test"), sizes, strict=True):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, (n,), dtype=np.uint8)
        image_name, label_name = NAMES[split_name]
        data.write_idx(directory / f"{image_name}{suffix}", images)
        data.write_idx(directory / f"{label_name}{suffix}", labels)
        written[split_name] = (images, labels)
    return written


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"]
)
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    path = data.write_idx(tmp_path / f"a.idx{suffix}", array)
    back = data.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # a writable copy, not a view of the file buffer


def test_idx_header_bytes_follow_the_format(tmp_path):
    path = data.write_idx(tmp_path / "labels", np.array([1, 2, 3], np.int16))
    raw = path.read_bytes()
    # magic 00 00 0B 01, one big-endian dimension (3), then big-endian int16s.
    assert raw == bytes.fromhex("0000 0B01 00000003 0001 0002 0003")


def test_gz_file_is_gzip_and_reproducible(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    first = data.write_idx(tmp_path / "a.gz", array).read_bytes()
    second = data.write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first[:2] == b"\x1f\x8b" and first == second
    assert gzip.decompress(first)[:4] == bytes([0, 0, 8, 1])


def _header(code, dims):
    return bytes([0, 0, code, len(dims)]) + np.array(dims, ">u4").tobytes()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (
            b"\x01\x00\x08\x01" + bytes(8),
            r"IDX magic number 00 00 <type> <ndim>, got bytes 01 00 08 01",
        ),
        (b"", r"got bytes \(empty file\)"),
        (_header(0x07, [2]) + bytes(2), r"type code in \{0x08, .*\}, got 0x07"),
        (
            _header(0x08, [2, 3])[:8],
            r"header of 12 bytes for 2 dimensions, got a file of 8",
        ),
        (
            _header(0x08, [2, 3]) + bytes(5),
            r"6 payload bytes .* got 5 bytes.*truncated",
        ),
        (
            _header(0x0C, [2]) + bytes(9),
            r"8 payload bytes for shape \(2,\) of int32, got 9",
        ),
    ],
    ids=["bad_magic", "empty", "bad_type", "short_header", "truncated", "too_long"],
)
def test_malformed_idx_errors_name_the_file(tmp_path, content, match):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(JnnValueError, match=match) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_gzip_confusion_is_explained(tmp_path):
    gz_named = tmp_path / "plain.gz"
    gz_named.write_bytes(_header(0x08, [1]) + bytes(1))
    with pytest.raises(JnnValueError, match=r"gzip-compressed file.*drop the .gz"):
        data.read_idx(gz_named)
    raw_named = tmp_path / "packed"
    raw_named.write_bytes(gzip.compress(_header(0x08, [1]) + bytes(1)))
    with pytest.raises(JnnValueError, match=r"Hint: the file is gzip-compressed"):
        data.read_idx(raw_named)


def test_read_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        data.read_idx(tmp_path / "nope")


@pytest.mark.parametrize(
    ("array", "error", "match"),
    [
        (np.zeros(3, np.int64), JnnTypeError, r"dtype uint8, int8.*got dtype int64"),
        ([1, 2], JnnTypeError, r"`array` to be a NumPy array, got list"),
        (np.zeros((), np.uint8), JnnValueError, r"rank 1..255, got shape \(\)"),
    ],
)
def test_write_idx_rejects_what_idx_cannot_hold(tmp_path, array, error, match):
    with pytest.raises(error, match=match):
        data.write_idx(tmp_path / "x", array)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_mnist_reads_both_splits(tmp_path, suffix):
    written = _write_mnist(tmp_path, suffix=suffix)
    for split_name in ("train", "test"):
        images, labels = written[split_name]
        loaded = data.load_mnist(tmp_path, split_name)
        assert loaded.x.shape == (len(labels), 28, 28, 1)
        assert loaded.x.dtype == np.float32 and loaded.y.dtype == np.int32
        np.testing.assert_array_equal(loaded.x[..., 0], images.astype(np.float32))
        np.testing.assert_array_equal(loaded.y, labels)


def test_load_mnist_missing_file_names_files_dir_and_helper(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^load_mnist: expected 't10k") as info:
        data.load_mnist(tmp_path, "test", fashion=True)
    text = str(info.value)
    assert "'t10k-images-idx3-ubyte' or 't10k-images-idx3-ubyte.gz'" in text
    assert str(tmp_path) in text and "download_mnist(" in text
    assert "fashion=True" in text


def test_load_mnist_count_mismatch(tmp_path):
    _write_mnist(tmp_path)
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(11, np.uint8))
    with pytest.raises(JnnValueError, match=r"as many labels as images \(12 .*got 11"):
        data.load_mnist(tmp_path)


def test_load_mnist_rejects_wrong_rank_and_split(tmp_path):
    _write_mnist(tmp_path)
    data.write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((12, 784), np.uint8))
    with pytest.raises(JnnValueError, match=r"images of shape \(N, H, W\), got uint8"):
        data.load_mnist(tmp_path)
    with pytest.raises(
        JnnValueError, match=r"`split` to be one of.*did you mean 'test'"
    ):
        data.load_mnist(tmp_path, "tests")


def test_download_from_file_url_then_load(tmp_path):
    mirror, target = tmp_path / "mirror", tmp_path / "out"
    mirror.mkdir()
    written = _write_mnist(mirror, suffix=".gz")
    paths = data.download_mnist(target, base_url=mirror.as_uri())
    assert [p.name for p in paths] == [f"{n}.gz" for s in NAMES.values() for n in s]
    assert all(p.read_bytes() == (mirror / p.name).read_bytes() for p in paths)
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in paths)
    np.testing.assert_array_equal(data.load_mnist(target, "test").y, written["test"][1])


def test_download_rejects_a_corrupt_file_and_leaves_nothing(tmp_path):
    mirror, target = tmp_path / "mirror", tmp_path / "out"
    mirror.mkdir()
    _write_mnist(mirror, suffix=".gz")
    broken = mirror / "t10k-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:-9])  # cut the gzip trailer
    with pytest.raises(JnnValueError, match=r"download_mnist\('file:.*valid IDX file"):
        data.download_mnist(target, base_url=mirror.as_uri())
    assert not (target / broken.name).exists()
    assert not any(p.name.startswith(".partial") for p in target.iterdir())


def test_download_checks_rank_and_reports_missing_urls(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write_mnist(mirror, suffix=".gz")
    data.write_idx(mirror / "train-labels-idx1-ubyte.gz", np.zeros((2, 2), np.uint8))
    with pytest.raises(JnnValueError, match=r"IDX array of rank 1, got shape \(2, 2\)"):
        data.download_mnist(tmp_path / "a", base_url=mirror.as_uri())
    with pytest.raises(urllib.error.URLError, match=r"No such file"):
        data.download_mnist(tmp_path / "b", base_url=(tmp_path / "none").as_uri())


def test_download_verifies_md5_for_the_default_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write_mnist(mirror, suffix=".gz")
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    monkeypatch.setattr(mnist, "MNIST_URL", mirror.as_uri())
    monkeypatch.setitem(mnist.MD5, False, md5)
    assert len(data.download_mnist(tmp_path / "good")) == 4
    monkeypatch.setitem(
        mnist.MD5, False, {**md5, "train-labels-idx1-ubyte.gz": "0" * 32}
    )
    with pytest.raises(JnnValueError, match=r"expected MD5 0{32}, got [0-9a-f]{32}"):
        data.download_mnist(tmp_path / "bad")


def test_download_keeps_files_already_present(tmp_path):
    mirror, target = tmp_path / "mirror", tmp_path / "out"
    mirror.mkdir()
    target.mkdir()
    _write_mnist(mirror, suffix=".gz")
    kept = target / "train-images-idx3-ubyte.gz"
    kept.write_bytes(b"local copy")
    data.download_mnist(target, base_url=mirror.as_uri())
    assert kept.read_bytes() == b"local copy"
