"""The perceptron: one neuron with a step activation and Rosenblatt's rule.

The step has zero gradient almost everywhere, so backprop cannot train it. The
classic perceptron learning rule does instead, one sample at a time:

    y = step(x @ weight + bias, threshold)
    weight += lr * (t - y) * x        bias += lr * (t - y)

It converges on linearly separable data (AND, OR) and never on XOR, which is
the textbook case for hidden layers trained with backprop.

Params are `{"weight": (F,), "bias": ()}` and the output is `(*B,)` of 0/1: a
single neuron, so no trailing axis of size 1 (unlike `dense(1)`).
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jnn import _checks, activations, initializers
from jnn._types import Array, Initializer, Layer, Params


def perceptron(
    threshold: float = 0.0,
    *,
    w_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Layer:
    """Build a single step neuron: `y = step(x @ weight + bias, threshold)`.

    Args:
      threshold: The neuron fires (outputs 1) where the weighted sum is
        >= `threshold`. Default 0.0.
      w_init: Initializer (or its name) for `weight`, called with shape
        (F,). Default zeros, the textbook start (the rule, not symmetry
        breaking, moves it). Use
        `constant`, `normal` or `uniform`: fan-based ones need two axes.
      param_dtype: Dtype of the parameters. Default float32.

    Shapes:
      x: (*B, F)  ->  y: (*B,) of 0/1 in x's dtype

    Params:
      weight: (F,)   bias: ()  (always starts at 0)

    State:
      none

    Raises:
      ValueError: if `threshold` is not finite, x has rank 0, x's last axis
        differs from the weight's F, or params are not shaped as above.
      TypeError: if `threshold` is not a number, params is not a dict, or x
        is not floating point.

    Example:
      >>> layer = perceptron(threshold=0.5)
      >>> params = {"weight": jnp.array([0.5, 0.7]), "bias": jnp.array(0.0)}
      >>> layer.apply(params, {}, jnp.array([[0.5, 0.6], [0.1, 0.1]]))[0]
      Array([1., 0.], dtype=float32)
    """
    threshold = _checks.finite_float("perceptron", "threshold", threshold)
    w_init = initializers.resolve("perceptron", "w_init", w_init, initializers.zeros())

    def init(key, x_spec):
        _checks.expect_min_rank("perceptron", x_spec, 1, "(*B, F)")
        weight = w_init(key, (x_spec.shape[-1],), param_dtype)
        return {"weight": weight, "bias": jnp.zeros((), param_dtype)}, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic layer
        return activations.step(weighted_sum(params, x), threshold), state

    return Layer(init, apply, "perceptron")


def weighted_sum(params: Params, x: Array) -> Array:
    """Return the neuron's pre-activation `x @ weight + bias`.

    Args:
      params: `{"weight": (F,), "bias": ()}`, as built by `perceptron`.
      x: Inputs, (*B, F), floating point.

    Returns:
      The weighted sums, (*B,).

    Raises:
      ValueError: if params are not `{"weight": (F,), "bias": ()}`, x has
        rank 0, or x's last axis is not F.
      TypeError: if params is not a dict or x is not floating point.

    Example:
      >>> params = {"weight": jnp.array([0.5, 0.7]), "bias": jnp.array(0.0)}
      >>> round(float(weighted_sum(params, jnp.array([0.5, 0.6]))), 4)
      0.67
    """
    _check_params("perceptron", params)
    _check_input("perceptron", x, params["weight"].shape[0])
    return _affine(params, x)


def perceptron_update(
    params: Params,
    x: Array,
    target,
    *,
    threshold: float = 0.0,
    lr: float = 1.0,
) -> Params:
    """Apply the perceptron rule once, on a single sample.

    `y = step(x @ w + b, threshold)`, then `w += lr * (t - y) * x` and
    `b += lr * (t - y)`. A correctly classified sample leaves params unchanged;
    a false fire (y = 1, t = 0) subtracts `lr * x`, a miss (y = 0, t = 1) adds it.

    Args:
      params: `{"weight": (F,), "bias": ()}`.
      x: One sample, (F,), in the params' dtype.
      target: The wanted output, 0 or 1 (int or float; cast to x's dtype).
      threshold: The step threshold. Default 0.0.
      lr: Learning rate, > 0. Default 1.0 (the rule's scale-free classic).

    Returns:
      The updated params, same structure and dtypes.

    Raises:
      ValueError: if x is not (F,), target is not a scalar or (when concrete)
        not 0 or 1, `lr` is not > 0, or `threshold` is not finite.
      TypeError: if x's dtype is not the params' floating dtype.

    Example:
      >>> params = {"weight": jnp.array([0.5, 0.7]), "bias": jnp.array(0.0)}
      >>> new = perceptron_update(params, jnp.array([0.5, 0.6]), 0, threshold=0.5)
      >>> [round(float(v), 4) for v in new["weight"]], float(new["bias"])
      ([0.0, 0.1], -1.0)
    """
    where = "perceptron_update"
    threshold, lr = _check_rule(where, threshold, lr)
    _check_params(where, params)
    _check_input(where, x, params["weight"].shape[0], rank=1)
    _check_dtype(where, x, params)
    target = _check_targets(where, target, (), x.dtype)
    new_params, _ = _update(params, (x, target), threshold, lr)
    return new_params


def train_perceptron(
    params: Params,
    x: Array,
    targets,
    *,
    threshold: float = 0.0,
    lr: float = 1.0,
    epochs: int = 20,
) -> tuple[Params, Array]:
    """Train with the perceptron rule, sample by sample, for `epochs` passes.

    Samples are visited in order, each update seeing the previous one's params
    (online learning, not a batch average). Both loops are `lax.scan`s inside
    one `jit`, compiled once per (shape, dtype, epochs).

    Args:
      params: `{"weight": (F,), "bias": ()}`, e.g. from `perceptron().init`.
      x: Samples, (N, F), in the params' dtype.
      targets: Wanted outputs, (N,), all 0 or 1 (int or float; cast to x's
        dtype). Values are checked when concrete (not under an outer `jit`).
      threshold: The step threshold. Default 0.0.
      lr: Learning rate, > 0. Default 1.0.
      epochs: Number of passes over the data, > 0. Default 20, plenty for
        the 2-input truth tables.

    Returns:
      `(params, errors)`: the trained params and the int32 number of
      misclassified samples in each epoch, (epochs,), each counted with the
      params just before that sample's update. A 0 means the epoch was clean.

    Raises:
      ValueError: if x is not (N, F), targets is not (N,) or not all 0/1,
        `lr` or `epochs` is not > 0, or `threshold` is not finite.
      TypeError: if `epochs` is not an int or x's dtype is not the params'
        floating dtype.

    Example:
      >>> import jax.random as jr
      >>> x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
      >>> params, _ = perceptron(0.5).init(jr.key(0), x)
      >>> params, errors = train_perceptron(params, x, jnp.array([0, 0, 0, 1]),
      ...                                   threshold=0.5, lr=0.1, epochs=10)
      >>> int(errors[-1]), perceptron(0.5).apply(params, {}, x)[0]
      (0, Array([0., 0., 0., 1.], dtype=float32))
    """
    where = "train_perceptron"
    threshold, lr = _check_rule(where, threshold, lr)
    epochs = _checks.positive_int(where, "epochs", epochs)
    _check_params(where, params)
    _check_input(where, x, params["weight"].shape[0], rank=2)
    _check_dtype(where, x, params)
    targets = _check_targets(where, targets, x.shape[:1], x.dtype)
    return _train(params, x, targets, threshold, lr, epochs)


@functools.partial(jax.jit, static_argnames=("epochs",))
def _train(params, x, targets, threshold, lr, epochs):
    def epoch(p, _):
        p, wrong = lax.scan(
            lambda q, xt: _update(q, xt, threshold, lr), p, (x, targets)
        )
        return p, wrong.sum(dtype=jnp.int32)

    return lax.scan(epoch, params, None, length=epochs)


def _update(params, sample, threshold, lr):
    """One rule step on `(x (F,), t ())`; returns (params, misclassified?)."""
    x, t = sample
    error = t - activations.step(_affine(params, x), threshold)  # -1, 0 or 1
    delta = lr * error  # scalar; the weakly typed lr keeps the params' dtype
    new = {"weight": params["weight"] + delta * x, "bias": params["bias"] + delta}
    return new, error != 0


def _affine(params, x):
    # (*B, F) @ (F,) -> (*B,); the bias is a scalar, so no rank promotion.
    return x @ params["weight"] + params["bias"]


def _check_params(where: str, params) -> None:
    if not isinstance(params, dict):
        raise _checks.type_error(
            where, 'params `{"weight": (F,), "bias": ()}`', type(params).__name__
        )
    shapes = {k: getattr(v, "shape", None) for k, v in params.items()}
    weight, bias = shapes.get("weight"), shapes.get("bias")
    if sorted(shapes) != ["bias", "weight"] or weight is None or len(weight) != 1:
        raise _checks.value_error(
            where,
            'params `{"weight": (F,), "bias": ()}`',
            {k: None if s is None else _checks.fmt_shape(s) for k, s in shapes.items()},
            "dense(1) params have weight (F, 1); use perceptron().init",
        )
    if bias != ():
        raise _checks.value_error(
            where, "a scalar `bias` of shape ()", f"shape {_checks.fmt_shape(bias)}"
        )


def _check_input(where: str, x, features: int, rank: int | None = None) -> None:
    """Check x is floating, has `rank` axes (>= 1 if None) and F on the last."""
    legend = {None: "(*B, F)", 1: "(F,), one sample", 2: "(N, F)"}[rank]
    if rank is None:
        _checks.expect_min_rank(where, x, 1, legend)
    else:
        _checks.expect_rank(where, x, rank, legend)
    _checks.expect_floating(where, "x", x)
    if x.shape[-1] != features:
        raise _checks.value_error(
            where,
            f"input with {features} features on the last axis "
            f"(weight is {_checks.fmt_shape((features,))})",
            f"shape {_checks.fmt_shape(x.shape)}",
        )


def _check_dtype(where: str, x, params) -> None:
    # The rule adds x into the weight: a mismatch would change the params' dtype.
    if x.dtype != params["weight"].dtype:
        raise _checks.type_error(
            where,
            f"`x` of the params' dtype {params['weight'].dtype}",
            f"dtype {x.dtype}",
            f"cast explicitly, e.g. x.astype(jnp.{params['weight'].dtype})",
        )


def _check_rule(where: str, threshold, lr) -> tuple[float, float]:
    threshold = _checks.finite_float(where, "threshold", threshold)
    lr = _checks.finite_float(where, "lr", lr, low=0.0)
    if lr == 0.0:
        raise _checks.value_error(where, "`lr` > 0", lr, "the rule would not move")
    return threshold, lr


def _check_targets(where: str, targets, shape: tuple[int, ...], dtype) -> Array:
    """Check targets' shape, and values when concrete; return them as `dtype`."""
    targets = jnp.asarray(targets)
    if targets.shape != tuple(shape):
        raise _checks.value_error(
            where,
            f"`targets` of shape {_checks.fmt_shape(shape)} (one per sample)",
            f"shape {_checks.fmt_shape(targets.shape)}",
        )
    if not isinstance(targets, jax.core.Tracer):
        bad = sorted({float(v) for v in targets.ravel().tolist()} - {0.0, 1.0})
        if bad:
            raise _checks.value_error(
                where, "`targets` of only 0 and 1", f"other values {bad[:5]}"
            )
    # 0/1 are exact in every dtype, so this cast loses nothing.
    return targets.astype(dtype)
