"""Per-example losses, by name. No hidden reduction: the caller reduces.

Every loss has the signature `fn(outputs, targets) -> per-example array` and
checks shapes strictly: nothing is broadcast, so an `(N, 1)` prediction against
an `(N,)` target is an error naming both shapes, never an `(N, N)` loss matrix.
The arithmetic is optax's or `jax.nn`'s wherever they have it.

Regression-style losses (`mse`, `mae`, `huber`, the binary cross-entropies,
`hinge`) take `outputs` and `targets` of one shape and dtype. Rank-1 inputs are
a batch of scalars, `(N,) -> (N,)`; higher ranks average the last axis,
`(*B, F) -> (*B,)`. Classification losses take logits `(*B, C)` and return
`(*B,)`.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn._loss_checks import check_labels as check_labels  # public: jnn.data uses it
from jnn._loss_checks import check_labels_pair, check_pair, check_values


def _mean_last(x: jax.Array) -> jax.Array:
    """Average the feature axis: `(*B, F) -> (*B,)`; `(N,)` stays `(N,)`."""
    return x.mean(axis=-1) if x.ndim >= 2 else x


def _per_example(elementwise: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Jit `elementwise(outputs, targets, *args)`, then `_mean_last`.

    The checks run outside; jitting the arithmetic makes an eager call compile
    one fused program per shape instead of one per primitive, and inlines
    under an outer `jit`.
    """
    return jax.jit(lambda o, t, *args: _mean_last(elementwise(o, t, *args)))


def _bce_elementwise(p, t, eps):
    p = jnp.clip(p, eps, 1.0 - eps)
    return -(t * jnp.log(p) + (1.0 - t) * jnp.log1p(-p))


def _crammer_singer(scores, labels):
    # optax's multiclass_hinge_loss formula, with the one-hot in `scores`' dtype
    # so that bf16 / float64 scores pass strict dtype promotion.
    one_hot = jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
    true_score = jnp.sum(scores * one_hot, axis=-1)
    return jnp.max(scores + 1.0 - one_hot, axis=-1) - true_score


_MSE = _per_example(optax.losses.squared_error)
_MAE = _per_example(lambda o, t: jnp.abs(o - t))
_HUBER = _per_example(lambda o, t, d: optax.losses.huber_loss(o, t, delta=d))
_BCE = _per_example(_bce_elementwise)
_SIGMOID_BCE = _per_example(optax.losses.sigmoid_binary_cross_entropy)
_HINGE = _per_example(optax.losses.hinge_loss)
_SOFTMAX_CE = jax.jit(optax.losses.softmax_cross_entropy)
_SPARSE_CE = jax.jit(optax.losses.softmax_cross_entropy_with_integer_labels)
_MULTICLASS_HINGE = jax.jit(_crammer_singer)


# --- Regression-style losses ------------------------------------------------


def mse(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Return the per-example mean squared error.

    Shapes:
      outputs, targets: (N,) -> (N,); or (*B, F) -> (*B,) (mean over F)

    Raises:
      ValueError: if the shapes differ (no broadcasting) or are rank 0.
      TypeError: if `outputs` is not floating or `targets` has another dtype.

    Example:
      >>> mse(jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]]))
      Array([2.5], dtype=float32)
    """
    outputs, targets = check_pair("mse", outputs, targets)
    return _MSE(outputs, targets)


def mae(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Return the per-example mean absolute error. Shapes and errors as `mse`."""
    outputs, targets = check_pair("mae", outputs, targets)
    return _MAE(outputs, targets)


def huber(outputs: jax.Array, targets: jax.Array, delta: float = 1.0) -> jax.Array:
    """Return the per-example Huber loss (optax's): quadratic within `delta`.

    Elementwise `0.5 e^2` for `|e| <= delta`, else `delta (|e| - delta / 2)`,
    then averaged over the last axis as in `mse`. Shapes as `mse`.

    Raises:
      ValueError: as `mse`, or if `delta` is not finite and > 0.
      TypeError: as `mse`, or if `delta` is not a number.

    Example:
      >>> huber(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]))
      Array([0.125, 2.5  ], dtype=float32)
    """
    _checks.finite_float("huber", "delta", delta)
    if delta <= 0:
        raise _checks.value_error("huber", "`delta` > 0", delta)
    outputs, targets = check_pair("huber", outputs, targets)
    return _HUBER(outputs, targets, float(delta))


def binary_cross_entropy(
    outputs: jax.Array, targets: jax.Array, eps: float = 1e-7
) -> jax.Array:
    """Return the per-example binary cross-entropy of probabilities.

    `outputs` are probabilities, clipped to `[eps, 1 - eps]` so that 0 and 1
    give a finite loss (at most `-log(eps)`) instead of inf/nan. `eps` is
    raised to the dtype's machine epsilon where smaller, so that `1 - eps`
    stays below 1: for float32 the default becomes 1.19e-7 (loss <= 15.9).
    Prefer `sigmoid_binary_cross_entropy` on logits: it needs no clipping and
    keeps the gradient of saturated outputs.

    Shapes:
      outputs, targets: (N,) -> (N,); or (*B, F) -> (*B,) (mean over F)

    Raises:
      ValueError: as `mse`, if concrete `outputs` or `targets` leave [0, 1],
        or if `eps` is not in (0, 0.5).
      TypeError: as `mse`, or if `eps` is not a number.

    Example:
      >>> binary_cross_entropy(jnp.array([0.5, 1.0]), jnp.array([1.0, 1.0])).round(4)
      Array([0.6931, 0.    ], dtype=float32)
    """
    _checks.finite_float("binary_cross_entropy", "eps", eps, 0.0, 0.5)
    if not 0.0 < eps < 0.5:
        raise _checks.value_error("binary_cross_entropy", "`eps` in (0, 0.5)", eps)
    outputs, targets = check_pair("binary_cross_entropy", outputs, targets)
    for name, x in (("outputs", outputs), ("targets", targets)):
        check_values(
            "binary_cross_entropy", name, x, "in [0, 1]", lambda v: (v >= 0) & (v <= 1)
        )
    eps = max(eps, float(jnp.finfo(outputs.dtype).eps))
    return _BCE(outputs, targets, eps)


def sigmoid_binary_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Return the per-example binary cross-entropy of logits (optax's, stable).

    Exact and finite for logits up to +-1e4: it uses `log_sigmoid`, never
    `log(sigmoid(x))`. Shapes and errors as `mse` (`logits` in place of
    `outputs`); `targets` are probabilities in [0, 1].

    Example:
      >>> sigmoid_binary_cross_entropy(jnp.array([1e4, -1e4]), jnp.array([1.0, 1.0]))
      Array([    0., 10000.], dtype=float32)
    """
    logits, targets = check_pair(
        "sigmoid_binary_cross_entropy", logits, targets, ("logits", "targets")
    )
    return _SIGMOID_BCE(logits, targets)


def hinge(scores: jax.Array, targets: jax.Array) -> jax.Array:
    """Return the per-example binary hinge loss `max(0, 1 - targets * scores)`.

    `targets` are -1 or +1 (same dtype as `scores`). Shapes and errors as
    `mse`; also raises ValueError if concrete `targets` hold other values.
    """
    scores, targets = check_pair("hinge", scores, targets, ("scores", "targets"))
    check_values("hinge", "targets", targets, "in {-1, +1}", lambda v: np.abs(v) == 1)
    return _HINGE(scores, targets)


# --- Classification losses --------------------------------------------------


def softmax_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Return the per-example cross-entropy of logits against target distributions.

    `targets` are one-hot or soft probabilities over the last axis. Computed by
    optax through `log_softmax`, so it is stable for logits up to +-1e4.

    Shapes:
      logits, targets: (*B, C)  ->  (*B,)

    Raises:
      ValueError: if the shapes differ or are rank 0.
      TypeError: if `logits` is not floating or `targets` has another dtype.

    Example:
      >>> softmax_cross_entropy(jnp.array([[0.0, 0.0]]), jnp.array([[1.0, 0.0]]))
      Array([0.6931472], dtype=float32)
    """
    logits, targets = check_pair(
        "softmax_cross_entropy", logits, targets, ("logits", "targets")
    )
    return _SOFTMAX_CE(logits, targets)


def sparse_softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Return the per-example cross-entropy of logits against integer labels.

    Computed by optax as `logsumexp(logits) - logits[label]`, stable for logits
    up to +-1e4. Concrete labels are range-checked with `check_labels`; under
    `jit` out-of-range labels give undefined values, so validate data first.

    Shapes:
      logits: (*B, C), labels: (*B,) int  ->  (*B,)

    Raises:
      ValueError: if `labels.shape != logits.shape[:-1]`, logits have rank 0,
        or concrete labels lie outside [0, C).
      TypeError: if `logits` is not floating or `labels` is not integer.

    Example:
      >>> sparse_softmax_cross_entropy(jnp.array([[0.0, 0.0]]), jnp.array([1]))
      Array([0.6931472], dtype=float32)
    """
    logits, labels = check_labels_pair("sparse_softmax_cross_entropy", logits, labels)
    return _SPARSE_CE(logits, labels)


def multiclass_hinge(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """Return the per-example Crammer-Singer multiclass hinge loss.

    `max(0, 1 + max_{j != y} scores_j - scores_y)`: only the strongest wrong
    class is penalised (Weston-Watkins would sum over all of them). This is
    optax's formula (see `_crammer_singer`).

    Shapes:
      scores: (*B, C), labels: (*B,) int  ->  (*B,)

    Raises:
      ValueError, TypeError: as `sparse_softmax_cross_entropy`.

    Example:
      >>> multiclass_hinge(jnp.array([[2.0, 1.5, 0.0]]), jnp.array([0]))
      Array([0.5], dtype=float32)
    """
    scores, labels = check_labels_pair("multiclass_hinge", scores, labels)
    return _MULTICLASS_HINGE(scores, labels)


# --- Registry ---------------------------------------------------------------

_BY_NAME: dict[str, Callable[..., jax.Array]] = {
    "mse": mse,
    "mae": mae,
    "huber": huber,
    "binary_cross_entropy": binary_cross_entropy,
    "sigmoid_binary_cross_entropy": sigmoid_binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
    "sparse_softmax_cross_entropy": sparse_softmax_cross_entropy,
    "hinge": hinge,
    "multiclass_hinge": multiclass_hinge,
}

NAMES: tuple[str, ...] = tuple(_BY_NAME)

# Losses whose targets are integer class labels `(*B,)` rather than `outputs`-shaped.
CLASSIFICATION: frozenset[str] = frozenset(
    {"sparse_softmax_cross_entropy", "multiclass_hinge"}
)


def get(name: str) -> Callable[..., jax.Array]:
    """Return the loss function called `name`.

    Raises:
      ValueError: if `name` is unknown (the message lists the valid names).

    Example:
      >>> get("mse") is mse
      True
    """
    _checks.one_of("losses.get", "name", name, NAMES)
    return _BY_NAME[name]
