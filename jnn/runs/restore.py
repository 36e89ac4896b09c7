"""Load any run: `load_run(path)` -> its config, model, params and a jitted predict.

Every consumer of a trained run goes through here: `scripts/evaluate.py`,
text and GAN sampling, fine-tuning (`train.init_from`) and research code.
Only the arrays a model needs are read (params, state and the input
normalisation statistics), so no optimizer template is involved; each task
says which model its checkpoints hold (`jnn.runs.tasks`).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn._types import Layer
from jnn.runs import checkpoint


class Run(NamedTuple):
    """A trained run, ready to predict. Build it with `load_run`."""

    path: Path  # the run directory
    checkpoint: Path  # the checkpoint folder the arrays came from
    task: str  # "supervised", "gan", ...
    config: Any  # the `jnn.config.Config`, or a Python run's plain dict
    model: Layer  # the model (a GAN run: its generator)
    params: Any
    state: Any
    step: int
    metadata: dict  # the checkpoint's metadata (inputs, vocab, ...)
    norm: Any  # `jnn.data.NormStats` of the inputs, or None
    apply: Callable  # jitted apply(params, state, x) in eval mode

    @property
    def vocab(self) -> str | None:
        """A text run's vocabulary: token id i is character vocab[i]."""
        return self.metadata.get("vocab")

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """Names of classes 0, 1, ... when the data set has them, else None."""
        names = self.metadata.get("class_names")
        return tuple(names) if names is not None else None

    def predict(self, x) -> jax.Array:
        """The model's outputs for inputs `x` (N, *input shape), in eval mode.

        Raw inputs go in: the run's saved input normalisation is applied
        first, exactly as in training. A GAN run takes noise (N, latent_dim)
        and returns samples.

        Raises:
          ValueError: if a sample's shape differs from the trained inputs'.
        """
        want = tuple(self.metadata.get("inputs", {}).get("shape", ()))
        x = jnp.asarray(x)
        if want and tuple(x.shape[1:]) != want:
            raise _checks.value_error(
                "predict",
                f"inputs of shape (N, {', '.join(map(str, want))}) like training",
                f"shape {_checks.fmt_shape(x.shape)}",
            )
        if self.norm is not None:
            # (N, *F) with (1, *F): explicit ranks, valid under rank_promotion="raise"
            x = (x - self.norm.shift[None]) / self.norm.scale[None]
        return self.apply(self.params, self.state, x)

    def evaluate(self, split: str = "test", data: tuple | None = None) -> dict:
        """Metrics of the run's model on one of its splits, or on `data`.

        A config run rebuilds its split from the saved config (and checks
        that the data still normalises as when it was trained); a Python
        run needs `data=(x, y)`. The values equal the ones the run logged.

        Raises:
          ValueError: if `split` is not train, val or test, or the data
            changed since the run was trained.
        """
        from jnn.runs import tasks  # lazy: the task's whole stack

        return tasks.evaluate(self, split, data)


def resolve_checkpoint(path: str | Path, step: int | None = None, where="load_run"):
    """The checkpoint folder of `path` (a run directory or a checkpoint folder).

    `step` picks `ckpt_<step>` of a run directory; None the newest. A
    checkpoint folder given with a `step` must be that step's.

    Raises:
      FileNotFoundError: if `path` does not exist or holds no such checkpoint
        (the message lists the steps there are).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{where}: expected a run or checkpoint directory, got {str(path)!r} (does not exist)."
        )
    if (path / checkpoint.MANIFEST).exists():
        if step is not None and path.name != f"ckpt_{step:08d}":
            raise FileNotFoundError(
                f"{where}: expected the checkpoint of step {step}, got {str(path)!r}. Hint: pass its run directory with step={step}, or step=None."
            )
        return path
    folder = path / "checkpoints"
    every = checkpoint.all_checkpoints(folder)
    found = every[-1] if every else None
    if step is not None:
        found = checkpoint.at_step(folder, step)
    if found is None:
        hint = "pass a run directory written by jnn (scripts/train.py or jnn.train.fit)"
        if every:  # only the asked step is missing: say which ones exist
            steps = ", ".join(str(checkpoint.step_of(p)) for p in every)
            hint = f"available steps: {steps}; or step=None for the newest"
        got = "none" if step is None else f"no ckpt_{step:08d}"
        raise FileNotFoundError(
            f"{where}: expected checkpoints under {str(folder)!r}, got {got}. Hint: {hint}."
        )
    return found


def run_dir(ckpt: Path) -> Path:
    """The run directory of a checkpoint folder (`RUN/checkpoints/ckpt_*`)."""
    ckpt = Path(ckpt).resolve()
    parent = ckpt.parent
    return parent.parent if parent.name == "checkpoints" else parent


def load_run(
    path: str | Path, step: int | None = None, *, model: Layer | None = None
) -> Run:
    """Load a trained run for prediction, evaluation, sampling or fine-tuning.

    Args:
      path: A run directory (its newest checkpoint, or `step`'s) or one of
        its `ckpt_*` folders. The directory may have been moved: nothing in
        it depends on where it was written.
      step: The checkpoint's step; None loads the newest.
      model: The model of a run trained with `jnn.train.fit` (a model
        built in Python is not described by its config); must be None for
        config runs, whose model is rebuilt from the saved config.

    Returns:
      A `Run`; `run.predict(x)` applies the saved input normalisation and
      the model in eval mode under `jit`.

    Raises:
      FileNotFoundError: if there is no such checkpoint.
      ValueError: if the checkpoint is corrupt, does not match the model,
        or `model` is missing for (or given to) a run that needs (or
        rebuilds) it.

    Example:
      >>> import numpy as np, optax, tempfile, jnn
      >>> x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
      >>> y = (x[:, 0] > 0).astype(np.int32)
      >>> model = jnn.layers.dense(2)
      >>> with tempfile.TemporaryDirectory() as d:
      ...     r = jnn.train.fit(model, "sparse_softmax_cross_entropy",
      ...                       optax.sgd(0.1), (x, y), epochs=1, batch_size=8,
      ...                       workdir=d, log=None, progress=False)
      ...     run = load_run(d, model=model)
      ...     print(run.step, run.predict(x[:2]).shape)
      4 (2, 2)
    """
    from jnn.runs import tasks  # lazy: the task's whole stack

    ckpt = resolve_checkpoint(path, step)
    saved_step, meta = checkpoint.restore_metadata(ckpt)
    loader = tasks.loader(meta, ckpt, model)
    template = {
        loader.params_key: loader.params,
        loader.state_key: loader.state,
        **_norm_template(meta),
    }
    tree, meta = checkpoint.restore(ckpt, template, partial=True)
    norm = _norm(tree.get("norm"))
    net = loader.model

    def apply(params, state, x):
        return net.apply(params, state, x, train=False)[0]

    return Run(
        path=run_dir(ckpt),
        checkpoint=ckpt,
        task=meta.get("task", "supervised"),
        config=loader.config,
        model=net,
        params=tree[loader.params_key],
        state=tree[loader.state_key],
        step=saved_step,
        metadata=meta,
        norm=norm,
        apply=jax.jit(apply),
    )


class Loader(NamedTuple):
    """What a task tells `load_run` about its checkpoints."""

    config: Any  # the rebuilt Config (or the plain dict of a Python run)
    model: Layer  # the model to apply
    params_key: str  # where its params live in the checkpoint tree
    state_key: str  # where its state lives
    params: Any  # params template (ShapeDtypeStructs)
    state: Any  # state template


def _norm_template(meta: dict) -> dict:
    if not meta.get("has_norm"):
        return {}
    shape = tuple(meta["inputs"]["shape"])
    spec = np.zeros(shape, np.float32)  # a NumPy leaf comes back as NumPy
    return {"norm": {"scale": spec, "shift": spec}}


def _norm(tree):
    if tree is None:
        return None
    from jnn.data.normalization import NormStats

    return NormStats(tree["shift"], tree["scale"])
