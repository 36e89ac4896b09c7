"""Params in `safetensors` files: weights other tools read, weights from elsewhere.

Naming: a tensor is named by its key path in the saved tree, the path's
parts joined by "." (`SEP`): dict keys as they are, list and tuple
positions (e.g. `serial`'s layers) as numbers, NamedTuple fields by name.
A run's file holds its params and its model state (e.g. batch-norm running
statistics) under the prefixes "params." and "state.":

    {"params": {"conv": {"weight": w}, "blocks": ({"bias": b},)}}
    -> "params.conv.weight", "params.blocks.0.bias"

Dict keys that contain "." would make names ambiguous and are refused.
`load(file, template)` reads a file into the structure of `template` (e.g.
`{"params": params, "state": state}` of a fresh `model.init`), after
checking every name, shape and dtype, as a checkpoint restore does.
Needs the `safetensors` package: `pip install "jnn[safetensors]"`. Only
NumPy's dtypes are stored (bfloat16 and float8 tensors are refused).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn._version import __version__
from jnn.export import require

SEP = "."
FORMAT = "jnn.params"
_HINT = "build the template from the same model (model.init) and input shape"


def _part(where: str, key, path) -> str:
    if isinstance(key, jax.tree_util.DictKey):
        name = str(key.key)
        if SEP in name or not name:
            raise _checks.value_error(
                where,
                f"dict keys without {SEP!r} (tensor names join keys with it)",
                f"key {key.key!r} at {jax.tree_util.keystr(path)}",
                "rename the key, e.g. with '_' instead",
            )
        return name
    if isinstance(key, jax.tree_util.SequenceKey):
        return str(key.idx)
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    return str(getattr(key, "key", key))  # FlattenedIndexKey and the like


def names(tree: Any, where: str = "interchange") -> dict[str, Any]:
    """Return `{tensor name: leaf}` of `tree`, names from its key paths.

    Raises:
      ValueError: if a dict key contains "." or two leaves get one name.
    """
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = SEP.join(_part(where, k, path) for k in path)
        if name in out:
            raise _checks.value_error(where, "distinct tensor names", f"{name!r} twice")
        out[name] = leaf
    return out


def _array(where: str, name: str, leaf) -> np.ndarray:
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        raise _checks.type_error(where, f"a numeric tensor {name}", "a PRNG key")
    array = np.ascontiguousarray(leaf)
    if array.dtype.kind not in "biufc" or array.dtype.name == "float128":
        raise _checks.type_error(
            where,
            f"a NumPy dtype (float16/32/64, int, uint, bool) for tensor {name}",
            f"dtype {array.dtype}",
            "cast first, e.g. jax.tree.map(lambda a: a.astype(jnp.float32), tree)",
        )
    return array


def save(tree: Any, file: str | Path, *, metadata: Mapping[str, str] | None = None):
    """Write the leaves of `tree` to a safetensors file, named by key path.

    Args:
      tree: A pytree of arrays, e.g. `{"params": params, "state": state}`.
      file: The file to write.
      metadata: Text entries for the file's header (beside jnn's format).

    Returns:
      The path written.

    Raises:
      MissingExtra: if `safetensors` is not installed.
      ValueError: if a dict key contains "." (see the module docstring).
      TypeError: if a leaf is not a NumPy-dtype array, or `metadata` holds
        anything but strings.
    """
    st = require("safetensors.numpy", "safetensors", "interchange.save")
    tensors = {k: _array("interchange.save", k, v) for k, v in names(tree).items()}
    header = {"format": FORMAT, "jnn": __version__, "naming": f"key paths, {SEP!r}"}
    for k, v in dict(metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            got = f"{k!r}: {type(v).__name__}"
            raise _checks.type_error("interchange.save", "str: str `metadata`", got)
        header[k] = v
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    st.save_file(tensors, file, metadata=header)
    return file


def read(file: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Return `(tensors, metadata)` of any safetensors file, as NumPy arrays.

    Raises:
      MissingExtra: if `safetensors` is not installed.
      FileNotFoundError: if `file` does not exist.
      ValueError: if `file` is not a readable safetensors file.
    """
    require("safetensors.numpy", "safetensors", "interchange.load")
    from safetensors import safe_open

    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(
            f"interchange.load: expected a safetensors file, got '{file}' (no such file)."
        )
    try:
        with safe_open(file, framework="numpy") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            return tensors, dict(f.metadata() or {})
    except Exception as error:  # safetensors' own errors are not exported types
        raise _checks.value_error(
            "interchange.load",
            f"a safetensors file of NumPy dtypes at '{file}'",
            f"{type(error).__name__}: {error}",
        ) from None


def _describe(leaf) -> str:
    return f"{np.dtype(leaf.dtype).name}{_checks.fmt_shape(leaf.shape)}"


def _differences(tensors: dict, expected: dict) -> list[str]:
    lines = [
        f"in file but not in template: {k} {_describe(v)}"
        for k, v in tensors.items()
        if k not in expected
    ]
    for k, like in expected.items():
        if k not in tensors:
            lines.append(f"in template but not in file: {k} {_describe(like)}")
        elif _describe(tensors[k]) != _describe(like):
            got, want = _describe(tensors[k]), _describe(like)
            lines.append(f"mismatched: {k} in file {got}, expected {want}")
    return lines


def load(file: str | Path, template: Any) -> Any:
    """Read a safetensors file into the structure of `template`.

    Args:
      file: A safetensors file, from `save` or from another tool that uses
        the same names (see the module docstring).
      template: A pytree of arrays or `jax.ShapeDtypeStruct`s, e.g.
        `{"params": params, "state": state}` of a fresh `model.init`.

    Returns:
      The template's tree with the file's tensors as jax arrays, bitwise.

    Raises:
      MissingExtra: if `safetensors` is not installed.
      FileNotFoundError: if `file` does not exist.
      ValueError: if a tensor is missing, extra, or has another shape or
        dtype than the template's (every difference is listed by name).
    """
    tensors, _ = read(file)
    expected = names(template, "interchange.load")
    lines = _differences(tensors, expected)
    if lines:
        raise _checks.value_error(
            "interchange.load",
            f"tensors matching the template in '{file}'",
            f"{len(lines)} difference(s):\n  " + "\n  ".join(lines),
            _HINT,
        )
    leaves = [jnp.asarray(tensors[k]) for k in expected]
    treedef = jax.tree_util.tree_structure(template)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def save_run(
    run: Any, out: str | Path, *, step: int | None = None, model: Any = None
) -> Path:
    """Write a run's params and model state to one safetensors file.

    Tensors are named "params.<path>" and "state.<path>" (module
    docstring); the header records the run's path, step and task.

    Args:
      run: A `jnn.runs.restore.Run`, or a run directory or checkpoint.
      out: The file to write.
      step, model: Passed to `jnn.load_run` when `run` is a path.

    Returns:
      The path written.

    Raises:
      FileNotFoundError: if `run` is a path with no checkpoint.
      MissingExtra: if `safetensors` is not installed.
    """
    from jnn.runs.restore import load_run

    if isinstance(run, str | Path):
        run = load_run(run, step, model=model)
    info = {"run": str(run.path), "step": str(run.step), "task": run.task}
    return save({"params": run.params, "state": run.state}, out, metadata=info)
