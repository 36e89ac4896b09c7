"""A tiny PNG writer (zlib + struct, no dependencies) and image layouts.

Enough for sample grids and scatter plots: 8-bit greyscale or RGB, no
interlacing, filter type 0 on every row.
"""

import struct
import zlib
from pathlib import Path

import numpy as np

from jnn import _checks


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def encode_png(image: np.ndarray) -> bytes:
    """Encode a uint8 image (H, W) greyscale or (H, W, 3) RGB as PNG bytes.

    Raises:
      ValueError: for another shape or dtype.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (
        image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
    ):
        raise _checks.value_error(
            "encode_png",
            "a uint8 image (H, W) or (H, W, 3)",
            f"{image.dtype} of shape {image.shape}",
        )
    height, width = image.shape[:2]
    colour = 0 if image.ndim == 2 else 2  # 0 greyscale, 2 truecolour
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    rows = image.reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], 1).tobytes()
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(raw, 9)),
            _chunk(b"IEND", b""),
        ]
    )


def write_png(path, image: np.ndarray) -> Path:
    """Write `encode_png(image)` to `path` (creating its folder); return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(image))
    return path


def image_grid(
    images: np.ndarray, *, columns: int, pad: int = 1, scale: int = 4
) -> np.ndarray:
    """Tile images (N, H, W, 1) in [-1, 1] into one uint8 greyscale grid.

    Each pixel becomes a `scale` x `scale` block so 8x8 digits stay visible;
    tiles are separated by `pad` (pre-scale) pixels of mid-grey.

    Example:
      >>> image_grid(np.zeros((3, 2, 2, 1)), columns=2, pad=1, scale=1).shape
      (7, 7)
    """
    images = np.asarray(images, np.float32)[..., 0]
    n, h, w = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), 0.0, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = img
    pixels = np.clip((grid + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), np.uint8))


def scatter_image(
    points: np.ndarray, *, extent: float, marks: np.ndarray | None = None, size=400
) -> np.ndarray:
    """Render 2-D points in [-extent, extent]^2 as an RGB uint8 image.

    Points are dark blue dots; optional `marks` (e.g. the true mode centres)
    are light red crosses, under the points. Points outside the square are dropped.
    """
    image = np.full((size, size, 3), 255, np.uint8)

    def pixel(xy):
        col = (xy[:, 0] + extent) / (2 * extent) * (size - 1)
        row = (extent - xy[:, 1]) / (2 * extent) * (size - 1)
        keep = (col >= 1) & (col < size - 1) & (row >= 1) & (row < size - 1)
        return row[keep].astype(int), col[keep].astype(int)

    if marks is not None:  # drawn first: samples on a mode stay visible
        rows, cols = pixel(np.asarray(marks, np.float64))
        for d in range(-6, 7):
            r, c = np.clip(rows + d, 0, size - 1), np.clip(cols + d, 0, size - 1)
            image[r, cols], image[rows, c] = (230, 120, 120), (230, 120, 120)
    rows, cols = pixel(np.asarray(points, np.float64))
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        image[rows + dr, cols + dc] = (20, 40, 160)
    return image
