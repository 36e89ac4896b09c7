"""Shape, dtype and value checks of `jnn.losses`, with messages naming both sides.

Host-side label validation (`check_labels`, also used by `jnn.data`) and the
traced-shape checks every loss runs before its arithmetic.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks

_SHOWN = 5  # how many offending values / sample indices an error message lists


# --- Host-side label validation -------------------------------------------


def _sorted_preview(items) -> str:
    """Render up to `_SHOWN` items comma-separated, with '...' past that."""
    text = ", ".join(str(int(v)) for v in items[:_SHOWN])
    return text + (", ..." if len(items) > _SHOWN else "")


def check_labels(where: str, labels, num_classes: int) -> None:
    """Check on the host that `labels` are integers in [0, num_classes).

    Call it on concrete arrays (NumPy or JAX, not tracers inside `jit`). The
    error names the offending values and the first few sample indices (the
    position along the leading axis), so bad rows of a data set can be found.

    Args:
      where: The error's prefix, e.g. "dataset 'train'".
      labels: Integer class labels of any shape `(N, ...)`.
      num_classes: Number of classes C. Must be > 0.

    Raises:
      TypeError: if `labels` do not have an integer dtype, or `num_classes`
        is not an int.
      ValueError: if any label lies outside [0, num_classes), or
        `num_classes` is not > 0.

    Example:
      >>> check_labels("dataset 'train'", np.array([0, 3, 12]), 10)
      Traceback (most recent call last):
      ...
      jnn._checks.JnnValueError: dataset 'train': expected integer labels in [0, 10), got 1 out-of-range values {12} at sample indices [2].
    """
    _checks.positive_int(where, "num_classes", num_classes)
    labels = np.atleast_1d(np.asarray(labels))
    if not np.issubdtype(labels.dtype, np.integer):
        raise _checks.type_error(
            where,
            "integer labels",
            f"dtype {labels.dtype}",
            "convert class ids explicitly, e.g. labels.astype(np.int32)",
        )
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        values = _sorted_preview(np.unique(labels[bad]))
        samples = _sorted_preview(np.unique(np.nonzero(bad)[0]))
        raise _checks.value_error(
            where,
            f"integer labels in [0, {num_classes})",
            f"{int(bad.sum())} out-of-range values {{{values}}}"
            f" at sample indices [{samples}]",
        )


def host_value(x) -> np.ndarray | None:
    """Return `x` as a NumPy array, or None when it is a tracer (jit, vmap)."""
    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


# --- Shape and dtype checks shared with jnn.metrics ------------------------


def _pair_hint(a: str, a_shape, b: str, b_shape) -> str:
    if tuple(a_shape) == (*b_shape, 1):
        return f"drop the trailing axis, e.g. {a}[..., 0], or use {b}[..., None]"
    if tuple(b_shape) == (*a_shape, 1):
        return f"drop the trailing axis, e.g. {b}[..., 0], or use {a}[..., None]"
    return "losses and metrics never broadcast; reshape one side to match"


def check_same_shape(where: str, a, b, names: tuple[str, str]) -> None:
    """Raise unless arrays `a` and `b` have one shape of rank >= 1."""
    if a.shape != b.shape:
        raise _checks.value_error(
            where,
            f"`{names[0]}` and `{names[1]}` of the same shape",
            f"{names[0]} {_checks.fmt_shape(a.shape)}"
            f" and {names[1]} {_checks.fmt_shape(b.shape)}",
            _pair_hint(names[0], a.shape, names[1], b.shape),
        )
    _checks.expect_min_rank(where, a, 1, "(N, ...) with a batch axis")


def check_pair(where: str, outputs, targets, names=("outputs", "targets")):
    """Check `outputs` / `targets` share one shape (rank >= 1) and dtype."""
    outputs, targets = jnp.asarray(outputs), jnp.asarray(targets)
    out, tgt = names
    check_same_shape(where, outputs, targets, names)
    _checks.expect_floating(where, out, outputs)
    if targets.dtype != outputs.dtype:
        raise _checks.type_error(
            where,
            f"`{tgt}` with the dtype of `{out}` ({outputs.dtype})",
            f"dtype {targets.dtype}",
            f"cast explicitly, e.g. {tgt}.astype({out}.dtype)",
        )
    return outputs, targets


def _labels_hint(labels_shape, logits_shape) -> str:
    expected = tuple(logits_shape[:-1])
    if tuple(labels_shape) == tuple(logits_shape):
        return "these look one-hot; use softmax_cross_entropy or labels.argmax(-1)"
    if tuple(labels_shape) == (*expected, 1):
        return "drop the trailing axis, e.g. labels[..., 0]"
    return f"pass one class id per example, e.g. labels.reshape({expected})"


def check_labels_pair(where: str, logits, labels):
    """Check logits `(*B, C)` against integer labels `(*B,)`; eager range check."""
    concrete = host_value(labels)
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    _checks.expect_min_rank(where, logits, 1, "(*B, C) with a class axis")
    _checks.expect_floating(where, "logits", logits)
    if labels.shape != logits.shape[:-1]:
        raise _checks.value_error(
            where,
            f"`labels` of shape {_checks.fmt_shape(logits.shape[:-1])}"
            " (the logits' shape without the class axis)",
            f"labels {_checks.fmt_shape(labels.shape)}"
            f" for logits {_checks.fmt_shape(logits.shape)}",
            _labels_hint(labels.shape, logits.shape),
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise _checks.type_error(
            where,
            "`labels` with an integer dtype",
            f"dtype {labels.dtype}",
            "pass class ids, e.g. labels.astype(jnp.int32)",
        )
    if concrete is not None:
        check_labels(where, concrete, logits.shape[-1])
    return logits, labels


def check_values(where: str, name: str, x, allowed: str, ok) -> None:
    """Eagerly (when `x` is concrete) raise unless `ok(x)` holds everywhere."""
    concrete = host_value(x)
    if concrete is not None and not np.all(ok(concrete)):
        bad = np.unique(concrete[~ok(concrete)])
        shown = ", ".join(f"{v:g}" for v in bad[:_SHOWN])
        raise _checks.value_error(where, f"`{name}` {allowed}", f"values {{{shown}}}")
