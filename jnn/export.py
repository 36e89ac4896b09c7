"""Export a run's jitted inference with `jax.export`, for use without jnn.

`save(run_or_path, out)` traces the run's eval-mode inference (its saved
input normalisation included, exactly as `Run.predict` applies it) with a
symbolic batch dimension `b`, and writes two files:

- `out`: the serialised `jax.export.Exported` (StableHLO with the params
  embedded as constants), callable for any batch size;
- `out.json` (the name plus `.json`): the signature, i.e. input shape with
  `"b"` for the batch, input dtype, output shape and meaning (class names, a
  text run's vocabulary), platforms, jnn and jax versions, run path and step.

`save_model(model, params, state, x_spec, out)` does the same for any model
built in Python. Serialising needs `flatbuffers`: `pip install "jnn[export]"`.

Load and call it in a process that never imports jnn (jax and numpy only):

    import json, jax, numpy as np
    signature = json.load(open("digits.jax.json"))
    with open("digits.jax", "rb") as f:
        exported = jax.export.deserialize(bytearray(f.read()))
    x = np.zeros((37, *signature["inputs"]["shape"][1:]), signature["inputs"]["dtype"])
    logits = exported.call(x)  # (37, 10); raw inputs in, as for run.predict

The file runs on the platforms it was exported for (`signature["platforms"]`,
by default the exporting machine's; pass e.g. `platforms=("cpu", "cuda")`).
A GAN run exports its generator (noise in, samples out); a text run the
next-token logits at each position of a sequence of the trained length. A
model that needs a concrete batch size is refused (today the recurrent
layers: their `initial_carry` takes an int), naming the layer.

Outputs equal `Run.predict`'s to float32 rounding, not always bitwise: the
program embeds the params as constants and fuses the normalisation, so XLA
may fold or reorder a few operations (measured up to 7e-7 on logits of
size ~5). The program also records source locations of the exporting code.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn._types import Layer
from jnn._version import __version__

FORMAT = "jnn.export"
VERSION = 1
BATCH = "b"  # the name of the symbolic batch dimension


class MissingExtra(_checks.JnnError, ImportError):
    """An optional dependency of jnn is not installed; the message names the
    extra that installs it."""


class Paths(NamedTuple):
    """The files `save` and `save_model` write."""

    model: Path  # the serialised jax.export.Exported
    signature: Path  # its JSON signature, beside it


def require(module: str, extra: str, where: str):
    """Import and return `module`, or raise naming the extra that installs it.

    Raises:
      MissingExtra: (an ImportError) if `module` is not installed.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            where,
            _checks.message(
                f"the `{module.split('.')[0]}` package",
                "none installed",
                f'pip install "jnn[{extra}]"',
            ),
        ) from None


def exported(
    model: Layer,
    params: Any,
    state: Any,
    x_spec: Any,
    *,
    norm: Any = None,
    platforms: Sequence[str] | None = None,
) -> jax.export.Exported:
    """Trace `model`'s eval-mode apply with a symbolic batch dimension.

    Args:
      model: The `Layer` to export.
      params, state: Its params and state; embedded as constants.
      x_spec: An input example or spec (`.shape`, `.dtype`), batch axis
        first (its size is ignored: the export takes any batch size).
      norm: Optional `(shift, scale)` (e.g. `jnn.data.NormStats`) applied
        to inputs first: `(x - shift) / scale`, as `Run.predict` does.
      platforms: Platforms to lower for, e.g. ("cpu", "cuda"); None: the
        default backend's.

    Returns:
      A `jax.export.Exported`; `.call(x)` runs it, `.serialize()` saves it.

    Raises:
      ValueError: if `x_spec` has no batch axis, or a layer needs a concrete
        batch size (e.g. the recurrent layers' `initial_carry` today).
    """
    shape = tuple(x_spec.shape)
    if not shape:
        raise _checks.value_error(
            "export",
            "`x_spec` with a batch axis first, (B, *F)",
            "shape ()",
            "pass an example batch, e.g. x[:1]",
        )
    (batch,) = jax.export.symbolic_shape(BATCH)
    spec = jax.ShapeDtypeStruct((batch, *shape[1:]), np.dtype(x_spec.dtype))
    shift, scale = (None, None) if norm is None else (norm[0], norm[1])

    def infer(x):
        if shift is not None:
            # (B, *F) with (1, *F): explicit ranks, as in Run.predict
            x = (x - jnp.asarray(shift)[None]) / jnp.asarray(scale)[None]
        return model.apply(params, state, x, train=False)[0]

    platforms = None if platforms is None else tuple(platforms)
    # Batch 1 first: the model's own errors (e.g. a wrong input shape) as they are.
    jax.eval_shape(infer, jax.ShapeDtypeStruct((1, *shape[1:]), spec.dtype))
    try:
        return jax.export.export(jax.jit(infer), platforms=platforms)(spec)
    except (_checks.JnnError, jax.errors.InconclusiveDimensionOperation) as error:
        raise _checks.value_error(
            "export",
            f"a model that traces with a symbolic batch size {BATCH!r}",
            f"{type(error).__name__}: {str(error).rstrip('.')}",
            "a layer wants a concrete batch size; such a model cannot be exported",
        ) from None


def save_model(
    model: Layer,
    params: Any,
    state: Any,
    x_spec: Any,
    out: str | Path,
    *,
    norm: Any = None,
    outputs: str = "model outputs",
    platforms: Sequence[str] | None = None,
    info: dict | None = None,
) -> Paths:
    """Export `model` like `exported` and write it with its signature.

    Args:
      model, params, state, x_spec, norm, platforms: As for `exported`.
      out: The file to write; the signature goes to `out` + ".json".
      outputs: What the outputs mean, for the signature.
      info: More JSON entries for the signature (e.g. class names).

    Returns:
      `Paths(model, signature)`.

    Raises:
      MissingExtra: if `flatbuffers` is not installed.
      ValueError: if `x_spec` has no batch axis.
    """
    require("flatbuffers", "export", "export")
    exp = exported(model, params, state, x_spec, norm=norm, platforms=platforms)
    out = Path(out)
    signature = _signature(exp, out, outputs, norm is not None) | (info or {})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(exp.serialize())
    sig = out.with_name(out.name + ".json")
    sig.write_text(json.dumps(signature, indent=1) + "\n", encoding="utf-8")
    return Paths(out, sig)


def _shape(shape) -> list:
    return [str(d) if jax.export.is_symbolic_dim(d) else int(d) for d in shape]


def _signature(exp, out: Path, outputs: str, normalises: bool) -> dict:
    (x,), (y,) = exp.in_avals, exp.out_avals
    return {
        "format": FORMAT,
        "version": VERSION,
        "file": out.name,
        "inputs": {
            "shape": _shape(x.shape),
            "dtype": str(x.dtype),
            "batch_dim": BATCH,
            "normalised_inside": normalises,
        },
        "outputs": {
            "shape": _shape(y.shape),
            "dtype": str(y.dtype),
            "meaning": outputs,
        },
        "platforms": list(exp.platforms),
        "calling_convention_version": exp.calling_convention_version,
        "versions": {"jnn": __version__, "jax": jax.__version__},
    }


def save(
    run: Any,
    out: str | Path,
    *,
    step: int | None = None,
    model: Layer | None = None,
    platforms: Sequence[str] | None = None,
) -> Paths:
    """Export a trained run's inference, as `Run.predict` computes it.

    Args:
      run: A `jnn.runs.restore.Run` (from `jnn.load_run`), or a run
        directory or checkpoint folder to load.
      out: The file to write; the signature goes to `out` + ".json".
      step, model: Passed to `jnn.load_run` when `run` is a path.
      platforms: As for `exported`.

    Returns:
      `Paths(model, signature)`.

    Raises:
      FileNotFoundError: if `run` is a path with no checkpoint.
      MissingExtra: if `flatbuffers` is not installed.
      ValueError: if `run` records no input shape (see `jnn.load_run`).
    """
    from jnn.runs.restore import load_run

    if isinstance(run, str | Path):
        run = load_run(run, step, model=model)
    spec = run.metadata.get("inputs")
    if spec is None:
        raise _checks.value_error(
            "export", f"input metadata in '{run.checkpoint}'", "none", "retrain it"
        )
    x_spec = jax.ShapeDtypeStruct((1, *spec["shape"]), np.dtype(spec["dtype"]))
    y_shape = jax.eval_shape(run.apply, run.params, run.state, x_spec).shape
    outputs, info = _meaning(run, y_shape)
    info["run"] = {"path": str(run.path), "step": run.step, "task": run.task}
    return save_model(
        run.model,
        run.params,
        run.state,
        x_spec,
        out,
        norm=run.norm,
        outputs=outputs,
        platforms=platforms,
        info=info,
    )


def _meaning(run, y_shape) -> tuple[str, dict]:
    """What a run's outputs mean, and what the signature says beside it."""
    meta = run.metadata
    classes = meta.get("num_classes")
    if run.task == "gan":
        return "samples from the generator of a GAN run; inputs: noise", {}
    if meta.get("vocab") is not None:
        vocab = meta["vocab"]
        at = " at each position" if len(y_shape) > 2 else ""
        return f"next-token logits over {len(vocab)} characters{at}", {"vocab": vocab}
    if classes is not None:
        what = "logits over" if y_shape[-1] == classes else "outputs for"
        return f"{what} {classes} classes", {"class_names": run.class_names}
    return "regression outputs", {}
