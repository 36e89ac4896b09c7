"""MNIST and Fashion-MNIST from their standard IDX files in a local directory.

Both data sets use the same four file names, so keep them in separate
directories. `download_mnist` fetches them for users with internet access;
`load_mnist` never touches the network.
"""

import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset
from jnn.data.idx import read_idx

MNIST_MAX = 255.0  # uint8 grey levels
SPLITS = ("train", "test")
FILES = {  # split -> (images, labels), without the optional .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # torchvision's mirror
FASHION_MNIST_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
# MD5 of the official .gz files, as published by torchvision and Zalando. They
# identify the files (this is not a security measure), so md5 is enough.
MD5 = {
    False: {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    True: {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}


def load_mnist(
    directory: str | os.PathLike, split: str = "train", fashion: bool = False
) -> Dataset:
    """Load one split of MNIST (or Fashion-MNIST) from its IDX files.

    Looks for `train-images-idx3-ubyte` / `train-labels-idx1-ubyte` (or the
    `t10k-*` pair for "test"), each raw or with a `.gz` suffix.

    Args:
      directory: Directory holding the four IDX files.
      split: "train" (60,000 samples) or "test" (10,000 samples).
      fashion: Only changes the download hint in errors; Fashion-MNIST uses
        the same file names and format.

    Returns:
      Dataset with x (N, 28, 28, 1) float32 raw grey levels 0..255
      (channels-last) and y (N,) int32 labels.

    Raises:
      FileNotFoundError: if an image or label file is missing; the message
        names the expected files, the directory and the download helper.
      ValueError: if `split` is unknown, a file is malformed (see `read_idx`),
        images are not (N, H, W) uint8, labels are not (N,) uint8, or the
        image and label counts differ.
    """
    _checks.one_of("load_mnist", "split", split, SPLITS)
    images_name, labels_name = FILES[split]
    images_path = _find(Path(directory), images_name, fashion)
    labels_path = _find(Path(directory), labels_name, fashion)
    images, labels = read_idx(images_path), read_idx(labels_path)
    _check_pair(images, labels, images_path, labels_path)
    x = images.astype(np.float32)[..., None]  # (N, H, W) -> (N, H, W, 1)
    return Dataset(x, labels.astype(np.int32))


def _find(directory: Path, name: str, fashion: bool) -> Path:
    """Return `directory/name` or `directory/name.gz`, preferring the raw file."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    helper = "download_mnist({!r}{})".format(
        str(directory), ", fashion=True" if fashion else ""
    )
    raise FileNotFoundError(
        "load_mnist: "
        + _checks.message(
            f"'{name}' or '{name}.gz' in directory '{directory}'",
            "neither",
            f"fetch the files with jnn.data.{helper}",
        )
    )


def _check_pair(images, labels, images_path: Path, labels_path: Path) -> None:
    if images.ndim != 3 or images.dtype != np.uint8:
        raise _checks.value_error(
            f"load_mnist('{images_path}')",
            "uint8 images of shape (N, H, W)",
            f"{images.dtype} of shape {_checks.fmt_shape(images.shape)}",
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise _checks.value_error(
            f"load_mnist('{labels_path}')",
            "uint8 labels of shape (N,)",
            f"{labels.dtype} of shape {_checks.fmt_shape(labels.shape)}",
        )
    if len(images) != len(labels):
        raise _checks.value_error(
            "load_mnist",
            f"as many labels as images ({len(images)} in '{images_path.name}')",
            f"{len(labels)} in '{labels_path.name}'",
            "the two files come from different splits or downloads",
        )


def download_mnist(
    directory: str | os.PathLike, fashion: bool = False, base_url: str | None = None
) -> list[Path]:
    """Download the four MNIST (or Fashion-MNIST) .gz IDX files into `directory`.

    Files already present are kept. Each file is fetched to a temporary name,
    verified, then renamed, so an interrupted download never leaves a
    truncated file under the real name. From the default mirrors the official
    MD5 checksums are verified; from a custom `base_url` (whose files may be
    legitimately different) the IDX structure and rank are verified instead.

    Args:
      directory: Where to put the files; created if missing.
      fashion: Fetch Fashion-MNIST instead of MNIST.
      base_url: A mirror holding the four .gz files (any URL urllib opens,
        e.g. "file:///data/mnist/"). Default: MNIST_URL or FASHION_MNIST_URL.

    Returns:
      The paths of the train images, train labels, test images and test labels.

    Raises:
      OSError: if a file cannot be fetched (`urllib.error.URLError`).
      ValueError: if a download fails its checksum or is not a valid IDX
        file of the expected rank; nothing is left under its name.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    default = FASHION_MNIST_URL if fashion else MNIST_URL
    url = (base_url or default).rstrip("/") + "/"
    names = [f"{name}.gz" for pair in FILES.values() for name in pair]
    paths = [directory / name for name in names]
    for name, path in zip(names, paths, strict=True):
        if not path.exists():
            md5 = MD5[fashion][name] if base_url is None else None
            _fetch(url + name, path, md5)
    return paths


def _fetch(url: str, path: Path, md5: str | None) -> None:
    partial = path.with_name(f".partial-{path.name}")  # keeps the .gz suffix
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            partial.write_bytes(response.read())
        _verify(url, partial, md5)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _verify(url: str, partial: Path, md5: str | None) -> None:
    where = f"download_mnist({url!r})"
    if md5 is not None:
        digest = hashlib.md5(partial.read_bytes(), usedforsecurity=False).hexdigest()
        if digest != md5:
            raise _checks.value_error(
                where, f"MD5 {md5}", digest, "the mirror or download is corrupt; retry"
            )
        return
    try:
        array = read_idx(partial)
    except _checks.JnnValueError as error:
        raise _checks.value_error(where, "a valid IDX file", error.message) from None
    rank = 3 if "images" in partial.name else 1
    if array.ndim != rank:
        raise _checks.value_error(
            where,
            f"an IDX array of rank {rank}",
            f"shape {_checks.fmt_shape(array.shape)}",
        )
