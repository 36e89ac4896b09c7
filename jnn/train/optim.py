"""`OptimConfig`, the [optim] schema, and the optax optimizers built from it.

Nothing here re-implements an update rule: `build` validates the config and
chains optax transforms, `schedule` composes optax schedules. A config field
that the chosen optimizer or schedule does not read (`momentum` for adam,
`decay_rate` for cosine) is refused when a config is loaded, and `nesterov`
without momentum is an error both there and in `build`.
"""

import functools
from dataclasses import dataclass
from typing import ClassVar

import jax
import optax

from jnn import _checks, penalties
from jnn.config.loader import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    UNIT,
    Problem,
    Rule,
    setting,
)

NAMES = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "exponential", "cosine")

_WHERE = "optim"
# Optimizers whose optax alias takes `momentum` / `nesterov`.
_WITH_MOMENTUM = ("sgd", "rmsprop")
_ADAM = ("adam", "adamw")
_DECAYING = ("step", "exponential")


def nesterov_problem(cfg: "OptimConfig", path: str = "optim") -> Problem | None:
    """The one rule "nesterov needs momentum > 0", for `cfg` at `path`.

    Used when a config is validated and by `build`, so both say the same.
    """
    if not cfg.nesterov or cfg.momentum > 0:
        return None
    momentum, nesterov = f"{path}.momentum", f"{path}.nesterov"
    return Problem(
        (nesterov, momentum),
        f"`{momentum}` > 0 when `{nesterov}` = true",
        repr(cfg.momentum),
        f"set {momentum}=0.9, or {nesterov}=false",
    )


@dataclass(frozen=True)
class OptimConfig:
    """[optim]: an optax optimizer on a learning-rate schedule (see `build`)."""

    name: str = setting("adam", choices=NAMES)  # the optax optimizer
    lr: float = setting(1e-3, rule=POSITIVE)  # peak learning rate
    momentum: float = setting(  # sgd / rmsprop momentum; 0 disables
        0.0, rule=FRACTION, read_if=("name", _WITH_MOMENTUM)
    )
    nesterov: bool = setting(  # Nesterov momentum (needs momentum > 0)
        False, read_if=("name", _WITH_MOMENTUM)
    )
    b1: float = setting(0.9, rule=FRACTION, read_if=("name", _ADAM))  # 1st moment
    b2: float = setting(0.999, rule=FRACTION, read_if=("name", _ADAM))  # 2nd moment
    eps: float = setting(  # denominator epsilon
        1e-8, rule=POSITIVE, read_if=("name", ("adam", "adamw", "rmsprop", "adagrad"))
    )
    decay: float = setting(  # rmsprop squared-gradient decay
        0.9, rule=FRACTION, read_if=("name", ("rmsprop",))
    )
    weight_decay: float = setting(  # adamw decoupled weight decay
        1e-4, rule=NON_NEGATIVE, read_if=("name", ("adamw",))
    )
    clip_norm: float = setting(0.0, rule=NON_NEGATIVE)  # global-norm clip; 0 = off
    schedule: str = setting("constant", choices=SCHEDULES)  # lr over the steps
    warmup_steps: int = setting(0, rule=NON_NEGATIVE)  # linear warmup from 0 to lr
    decay_steps: int = setting(  # step / exponential: steps per decay
        1000, rule=POSITIVE, read_if=("schedule", _DECAYING)
    )
    decay_rate: float = setting(  # step / exponential: factor per decay_steps
        0.5,
        rule=Rule("in (0, 1]", lambda v: 0 < v <= 1),
        read_if=("schedule", _DECAYING),
    )
    final_lr_fraction: float = setting(  # cosine: final lr as a fraction of lr
        0.0, rule=UNIT, read_if=("schedule", ("cosine",))
    )

    relations: ClassVar = (nesterov_problem,)


def schedule(cfg: OptimConfig, total_steps: int) -> optax.Schedule:
    """Return the learning rate as a function of the step count.

    `constant` keeps `lr`; `step` multiplies it by `decay_rate` once every
    `decay_steps` (a staircase); `exponential` is the smooth version,
    `lr * decay_rate ** (t / decay_steps)`; `cosine` anneals from `lr` to
    `lr * final_lr_fraction` at `total_steps`. With `warmup_steps > 0` the
    rate first rises linearly from 0 to `lr`, and the decay clock starts when
    the warmup ends.

    Args:
      cfg: The optimizer config; uses `lr`, `schedule`, `warmup_steps`,
        `decay_steps`, `decay_rate` and `final_lr_fraction`.
      total_steps: Number of optimizer steps in the run. Must be > 0.

    Raises:
      ValueError: if `total_steps` or `optim.decay_steps` is not > 0, if
        `optim.lr` is not > 0, if `optim.warmup_steps` is negative or not
        below `total_steps`, if `optim.decay_rate` is not in (0, 1], if
        `optim.final_lr_fraction` is not in [0, 1], or if `optim.schedule`
        is unknown.
      TypeError: if a step count is not an int or a rate is not a number.

    Example:
      >>> cfg = OptimConfig(lr=1.0, schedule="step", decay_steps=10)
      >>> [float(schedule(cfg, 100)(t)) for t in (0, 9, 10, 25)]
      [1.0, 1.0, 0.5, 0.25]
    """
    _checks.positive_int(_WHERE, "total_steps", total_steps)
    name = _checks.one_of(_WHERE, "optim.schedule", cfg.schedule, SCHEDULES)
    lr = _positive_float("optim.lr", cfg.lr)
    warmup = _checks.non_negative_int(_WHERE, "optim.warmup_steps", cfg.warmup_steps)
    if warmup >= total_steps:
        raise _checks.value_error(
            _WHERE,
            f"`optim.warmup_steps` < total_steps ({total_steps})",
            warmup,
            "shorten the warmup or train for more steps",
        )
    main = _decay(name, lr, cfg, total_steps - warmup)
    if warmup == 0:
        return _promoting(main)
    ramp = optax.linear_schedule(0.0, lr, warmup)
    # join_schedules hands `main` the step count minus the boundary.
    return _promoting(optax.join_schedules([ramp, main], [warmup]))


def _decay(name: str, lr: float, cfg: OptimConfig, steps: int) -> optax.Schedule:
    """Build the post-warmup part of the schedule, `steps` long."""
    if name == "constant":
        return optax.constant_schedule(lr)
    if name == "cosine":
        alpha = _checks.finite_float(
            _WHERE, "optim.final_lr_fraction", cfg.final_lr_fraction, 0.0, 1.0
        )
        return optax.cosine_decay_schedule(lr, steps, alpha=alpha)
    decay_steps = _checks.positive_int(_WHERE, "optim.decay_steps", cfg.decay_steps)
    rate = _checks.finite_float(_WHERE, "optim.decay_rate", cfg.decay_rate, 0.0, 1.0)
    if rate == 0.0:
        raise _checks.value_error(_WHERE, "`optim.decay_rate` in (0, 1]", rate)
    return optax.exponential_decay(lr, decay_steps, rate, staircase=name == "step")


def build(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    """Return the optax optimizer that `cfg` describes, on the scheduled lr.

    `sgd` is plain gradient descent with `momentum = 0`, heavy ball with
    `momentum > 0`, and Nesterov momentum with `nesterov = True`. `adamw`
    decays only the leaves `jnn.penalties.weight_mask` selects (weights and
    embeddings, not biases or norm parameters). With `clip_norm > 0`
    gradients are clipped to that global norm before the optimizer sees them.

    Args:
      cfg: The optimizer config, an `OptimConfig`.
      total_steps: Number of optimizer steps in the run, for the schedule.
        Must be > 0.

    Raises:
      ValueError: if `optim.name` is unknown (with a did-you-mean hint), if
        `optim.nesterov` is set without `optim.momentum > 0` or for an
        optimizer without momentum, if `optim.momentum > 0` for an optimizer
        without momentum, if a decay factor (`momentum`, `b1`, `b2`, `decay`)
        is not in [0, 1), if `eps`, `weight_decay` or `clip_norm` is negative
        or not finite, or for any schedule error listed in `schedule`.
      TypeError: if a hyperparameter has the wrong type.

    Example:
      >>> import jax.numpy as jnp
      >>> opt = build(OptimConfig(name="sgd", lr=0.1), total_steps=10)
      >>> params = {"weight": jnp.array([1.0, 2.0])}
      >>> updates, _ = opt.update(params, opt.init(params), params)
      >>> updates["weight"]
      Array([-0.1, -0.2], dtype=float32)
    """
    name = _checks.one_of(_WHERE, "optim.name", cfg.name, NAMES)
    momentum = _check_momentum(name, cfg)
    lr = schedule(cfg, total_steps)
    optimizer = _ALIASES[name](lr, cfg, momentum)
    clip = _non_negative_float("optim.clip_norm", cfg.clip_norm)
    if clip > 0.0:
        optimizer = optax.chain(optax.clip_by_global_norm(clip), optimizer)
    return optax.GradientTransformationExtraArgs(
        _promoting(optimizer.init), _promoting(optimizer.update)
    )


def _promoting(fn):
    """Run `fn` under standard dtype promotion, whatever the caller's setting.

    optax mixes Python floats with int32 step counts (`b1 ** count` in adam,
    the cosine schedule), which `jax_numpy_dtype_promotion="strict"` rejects.
    Strict mode is for catching jnn and user code, not optax's internals.
    """

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.numpy_dtype_promotion("standard"):
            return fn(*args, **kwargs)

    return wrapped


def _check_momentum(name: str, cfg: OptimConfig) -> float | None:
    """Validate `momentum` / `nesterov`; return optax's momentum (None = off)."""
    momentum = _checks.probability(_WHERE, "optim.momentum", cfg.momentum)
    if not isinstance(cfg.nesterov, bool):
        raise _checks.type_error(_WHERE, "`optim.nesterov` to be a bool", cfg.nesterov)
    if name not in _WITH_MOMENTUM and (momentum > 0.0 or cfg.nesterov):
        raise _checks.value_error(
            _WHERE,
            f"`optim.momentum` = 0 and `optim.nesterov` = false for {name!r}",
            f"momentum={momentum}, nesterov={cfg.nesterov}",
            f"momentum applies to {' and '.join(_WITH_MOMENTUM)} only",
        )
    problem = nesterov_problem(cfg)
    if problem is not None:
        raise problem.error(_WHERE)
    return momentum if momentum > 0.0 else None


def _sgd(lr, cfg, momentum):
    return optax.sgd(lr, momentum=momentum, nesterov=cfg.nesterov)


def _adam(lr, cfg, momentum):
    del momentum  # rejected for adam by _check_momentum
    return optax.adam(lr, **_adam_args(cfg))


def _adamw(lr, cfg, momentum):
    del momentum  # rejected for adamw by _check_momentum
    decay = _non_negative_float("optim.weight_decay", cfg.weight_decay)
    return optax.adamw(
        lr, **_adam_args(cfg), weight_decay=decay, mask=penalties.weight_mask
    )


def _adam_args(cfg: OptimConfig) -> dict[str, float]:
    return {
        "b1": _checks.probability(_WHERE, "optim.b1", cfg.b1),
        "b2": _checks.probability(_WHERE, "optim.b2", cfg.b2),
        "eps": _non_negative_float("optim.eps", cfg.eps),
    }


def _rmsprop(lr, cfg, momentum):
    decay = _checks.probability(_WHERE, "optim.decay", cfg.decay)
    eps = _non_negative_float("optim.eps", cfg.eps)
    return optax.rmsprop(
        lr, decay=decay, eps=eps, momentum=momentum, nesterov=cfg.nesterov
    )


def _adagrad(lr, cfg, momentum):
    del momentum  # rejected for adagrad by _check_momentum
    return optax.adagrad(lr, eps=_non_negative_float("optim.eps", cfg.eps))


_ALIASES = {
    "sgd": _sgd,
    "adam": _adam,
    "adamw": _adamw,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
}


def _non_negative_float(name: str, value) -> float:
    return _checks.finite_float(_WHERE, name, value, 0.0)


def _positive_float(name: str, value) -> float:
    value = _non_negative_float(name, value)
    if value == 0.0:
        raise _checks.value_error(_WHERE, f"`{name}` > 0", value)
    return value
