"""Character-level text data: corpus, fixed vocabulary, contiguous splits, baseline.

The default corpus is the English text of Python's documentation topics
(`pydoc_data.topics.topics`, what `help("topics")` prints), which ships with
every CPython, so the task runs offline anywhere (about 465k characters on
Python 3.12; the text changes slightly between Python versions). Any UTF-8
text file can replace it (`data.path`).

The vocabulary is the sorted set of the corpus's characters. It is a pure
function of the corpus, so a saved run rebuilds it from its config
(`data.path`) and maps sampled ids back to characters; `encode` rejects
characters outside it (or drops them, if asked) rather than guessing.

Splits are contiguous blocks, [train | val | test] in corpus order, each cut
into non-overlapping windows that never cross a block boundary: no held-out
character is ever a training input or target.
"""

import math
import pathlib

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset

UNKNOWN = ("error", "drop")  # what `encode` does with characters not in the vocab


def read_corpus(path: str = "") -> str:
    """Return the text of the UTF-8 file `path`, or the pydoc topics if "".

    The pydoc topics are joined in sorted topic order, separated by a blank
    line, so the corpus is the same on every run of one Python version.

    Raises:
      ValueError: if the file is missing, not UTF-8, or holds fewer than 2
        characters.
    """
    if not path:
        from pydoc_data.topics import topics  # lazy: only text runs need it

        return "\n\n".join(topics[name] for name in sorted(topics))
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _checks.value_error(
            "text", "`data.path` naming an existing UTF-8 file", repr(path)
        ) from None
    except UnicodeDecodeError as error:
        raise _checks.value_error(
            "text", f"`data.path` {path!r} to be UTF-8 text", f"'{error}'"
        ) from None
    if len(text) < 2:
        raise _checks.value_error("text", "a corpus of >= 2 characters", len(text))
    return text


def build_vocab(text: str) -> str:
    """The vocabulary: the sorted distinct characters of `text`, as one string.

    Token id i is character `vocab[i]`.

    Example:
      >>> build_vocab("hello")
      'ehlo'
    """
    return "".join(sorted(set(text)))


def encode(text: str, vocab: str, *, unknown: str = "error") -> np.ndarray:
    """Map characters to int32 token ids.

    Args:
      text: The characters to encode.
      vocab: The vocabulary string (`build_vocab`).
      unknown: "error" raises on characters outside `vocab`; "drop" skips them.

    Raises:
      ValueError: if `unknown` is not "error" or "drop", or with "error",
        if `text` holds characters outside `vocab` (listing them).

    Example:
      >>> encode("hole", "ehlo").tolist()
      [1, 3, 2, 0]
    """
    _checks.one_of("encode", "unknown", unknown, UNKNOWN)
    index = {c: i for i, c in enumerate(vocab)}
    missing = sorted(set(text) - index.keys())
    if missing and unknown == "error":
        raise _checks.value_error(
            "encode",
            f"characters in the {len(vocab)}-character vocabulary",
            f"unknown characters {missing[:10]}",
            'remove them, or pass unknown="drop" to skip them',
        )
    return np.array([index[c] for c in text if c in index], np.int32)


def decode(ids, vocab: str) -> str:
    """Map token ids back to a string.

    Example:
      >>> decode([1, 3, 2, 0], "ehlo")
      'hole'
    """
    return "".join(vocab[int(i)] for i in np.asarray(ids).reshape(-1))


def windows(tokens: np.ndarray, seq_len: int) -> Dataset:
    """Cut tokens into non-overlapping windows: x = t[i:i+T], y = t[i+1:i+T+1].

    Windows start every `seq_len` tokens, so each token is a target once.

    Shapes:
      tokens: (L,) int  ->  x, y: (N, T) int32 with N = (L - 1) // T

    Example:
      >>> data = windows(np.arange(7, dtype=np.int32), 3)
      >>> data.x.tolist(), data.y.tolist()
      ([[0, 1, 2], [3, 4, 5]], [[1, 2, 3], [4, 5, 6]])
    """
    n = max(len(tokens) - 1, 0) // seq_len
    starts = np.arange(n)[:, None] * seq_len + np.arange(seq_len)[None, :]  # (N, T)
    tokens = np.asarray(tokens, np.int32)
    return Dataset(tokens[starts], tokens[starts + 1])


def text_splits(
    tokens: np.ndarray, seq_len: int, val_fraction: float, test_fraction: float
) -> tuple[Dataset, Dataset, Dataset]:
    """Split tokens into contiguous [train | val | test] blocks, then windows.

    test holds the last round(test_fraction * L) tokens, val the
    round(val_fraction * rest) before it, train the start of the text.

    Raises:
      ValueError: if a split with a fraction > 0 is too short for one window
        of `seq_len` + 1 tokens.
    """
    n = len(tokens)
    n_test = round(test_fraction * n)
    n_val = round(val_fraction * (n - n_test))
    bounds = (0, n - n_test - n_val, n - n_test, n)
    names, fractions = ("train", "val", "test"), (1.0, val_fraction, test_fraction)
    parts = []
    for name, lo, hi, fraction in zip(
        names, bounds[:-1], bounds[1:], fractions, strict=True
    ):
        data = windows(tokens[lo:hi], seq_len)
        if fraction > 0 and len(data.x) == 0:
            raise _checks.value_error(
                f"text ({name} split)",
                f"at least `data.seq_len` + 1 = {seq_len + 1} tokens",
                f"{hi - lo} tokens",
                "lower data.seq_len, or use a longer text",
            )
        parts.append(data)
    return tuple(parts)


def check_tokens(dataset: Dataset, where: str, vocab_size: int) -> None:
    """Check token windows on the host: int (N, T) x and y, ids in [0, V).

    Raises:
      ValueError: on shapes other than (N, T), or ids outside [0, V).
      TypeError: if x or y is not an integer array.
    """
    for name, ids in zip("xy", dataset, strict=True):
        if not np.issubdtype(ids.dtype, np.integer):
            raise _checks.type_error(where, f"integer token ids `{name}`", ids.dtype)
        if ids.ndim != 2 or ids.shape != dataset.x.shape:
            raise _checks.value_error(
                where,
                f"`{name}` of shape (N, T) = {_checks.fmt_shape(dataset.x.shape)}",
                f"shape {_checks.fmt_shape(ids.shape)}",
            )
        bad = (ids < 0) | (ids >= vocab_size)
        if bad.any():
            raise _checks.value_error(
                where, f"token ids in [0, {vocab_size})", f"{bad.sum()} outside"
            )


def unigram_log_probs(tokens: np.ndarray, vocab_size: int) -> np.ndarray:
    """Add-one smoothed log probabilities (nats) of each token id in `tokens`.

    Smoothing keeps a held-out character never seen in train finite.

    Shapes:
      tokens: (*N,) int  ->  (V,) float32
    """
    counts = np.bincount(np.ravel(tokens), minlength=vocab_size) + 1.0
    return np.log(counts / counts.sum()).astype(np.float32)


def unigram_entropy_bits(tokens: np.ndarray, vocab_size: int) -> float:
    """Entropy in bits of the character frequencies in `tokens`.

    This is the unigram baseline a character model must beat: the bits per
    character of a model that ignores all context.

    Example:
      >>> unigram_entropy_bits(np.array([0, 1, 0, 1]), 3)
      1.0
    """
    counts = np.bincount(np.ravel(tokens), minlength=vocab_size).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def bits(nats: float) -> float:
    """Convert nats (natural-log cross-entropy) to bits."""
    return nats / math.log(2)
