"""The checkpoint format: arrays and manifest of one `ckpt_*` folder.

Format (version 1), inside one checkpoint folder:

- `arrays.npz`: one `np.savez` entry per leaf of the saved tree, named by
  its key path (`jax.tree_util.keystr`, e.g. `['opt_state'][0].mu['weight']`).
  Typed PRNG keys are stored as their `jax.random.key_data`; extended dtypes
  (bfloat16, float8, int4, ...) as same-width unsigned-int views, so every
  entry is a plain numeric array that `np.load(..., allow_pickle=False)` can
  read.
- `manifest.json`: format name and version, step, library versions, the
  default PRNG implementation, one record per leaf (path, shape, dtype,
  storage dtype, is_prng_key, impl), the JSON `metadata`, and the SHA-256 of
  every other file (`files`; `sha256` repeats the one of `arrays.npz`).

`restore` checks the checksum and every key path, shape and dtype against a
template before loading anything. Nothing here uses pickle. Where folders
live and how they are committed is `jnn.runs.checkpoint.store`'s business.
"""

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn._version import __version__

FORMAT = "jnn.checkpoint"
VERSION = 1
ARRAYS = "arrays.npz"
MANIFEST = "manifest.json"
_NATIVE_KINDS = "biufc"  # bool, int, uint, float, complex: numpy stores these as-is


class CorruptCheckpoint(_checks.JnnValueError):
    """A checkpoint whose files are damaged or were not written by jnn: its
    manifest, checksum or arrays do not hold up. Another checkpoint may."""


def _corrupt(expected: str, got, hint: str | None = None) -> CorruptCheckpoint:
    return CorruptCheckpoint("restore", _checks.message(expected, str(got), hint))


def _dtype_from_name(name: str) -> np.dtype | None:
    """Return the numeric dtype called `name` (numpy's or jax's ml_dtypes)."""
    try:
        dtype = np.dtype(name)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _NATIVE_KINDS:
        # jax's scalar types (jnp.bfloat16, float8_*, int4, ...) carry `.dtype`
        dtype = getattr(getattr(jnp, name, None), "dtype", None)
        dtype = dtype if isinstance(dtype, np.dtype) else None
    return dtype if dtype is not None and dtype.name == name else None


def _encode_leaf(path: str, leaf: Any) -> tuple[np.ndarray, dict]:
    """Return (array to store, manifest record) for one leaf of the saved tree."""
    if not isinstance(leaf, jax.Array | np.ndarray | np.generic):
        raise _checks.type_error(
            "save",
            f"array leaves (jax or numpy) in `tree`, at {path}",
            type(leaf).__name__,
            "wrap scalars with jnp.asarray(...) or put them in `metadata`",
        )
    is_key = jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
    impl = str(jax.random.key_impl(leaf)) if is_key else None
    data = np.asarray(jax.random.key_data(leaf) if is_key else leaf)
    if data.dtype.kind not in _NATIVE_KINDS:  # ml_dtypes: store the raw bits
        if _dtype_from_name(data.dtype.name) is None:
            raise _checks.type_error(
                "save", f"a numeric dtype at {path}", f"dtype {data.dtype}"
            )
        data = data.view(np.dtype(f"u{data.dtype.itemsize}"))
    record = {"path": path, "shape": list(leaf.shape), "dtype": str(leaf.dtype)}
    record.update(is_prng_key=is_key, impl=impl)
    record["storage"] = {"shape": list(data.shape), "dtype": data.dtype.str}
    return data, record


def _check_stored(path: Path, record: dict, data: np.ndarray) -> None:
    """Guard against a manifest that disagrees with the arrays it describes."""
    want = (record["storage"]["dtype"], _checks.fmt_shape(record["storage"]["shape"]))
    got = (data.dtype.str, _checks.fmt_shape(data.shape))
    if got != want:
        where = f"{record['path']} in {path / ARRAYS} stored as {' '.join(want)}"
        hint = "the manifest does not match the arrays; the checkpoint is corrupt"
        raise _corrupt(where, " ".join(got), hint)


def _decode_leaf(path: Path, record: dict, data: np.ndarray, like: Any):
    """Turn a stored array back into the leaf type the template asks for."""
    _check_stored(path, record, data)
    if record["is_prng_key"]:
        key = jax.random.wrap_key_data(jnp.asarray(data), impl=record["impl"])
        return key if _is_key_name(str(like.dtype)) else jax.random.key_data(key)
    dtype = _dtype_from_name(record["dtype"])
    if dtype is None or dtype.itemsize != data.dtype.itemsize:
        where = f"{record['path']} in a dtype the size of its stored {data.dtype.str}"
        hint = "the manifest is corrupt"
        raise _corrupt(where, record["dtype"], hint)
    data = data.view(dtype)  # no-op unless an ml_dtype was stored as uint bits
    if isinstance(like, np.ndarray | np.generic):
        return np.array(data)
    leaf = jnp.asarray(data)
    if leaf.dtype != data.dtype:  # jax would silently narrow e.g. float64
        raise _checks.value_error(
            "restore",
            f"{record['path']} restorable as a jax array of dtype {data.dtype}",
            f"dtype {leaf.dtype} (jax_enable_x64 is off)",
            "enable jax_enable_x64, or use a numpy array as the template leaf",
        )
    return leaf


def _flatten(where: str, tree: Any) -> tuple[list[str], list[Any], Any]:
    """Return (key path strings, leaves, treedef) of a Mapping tree."""
    if not isinstance(tree, Mapping):
        raise _checks.type_error(
            where,
            "`tree` to be a Mapping, e.g. {'params': ..., 'opt_state': ...}",
            type(tree).__name__,
        )
    with_path, treedef = jax.tree_util.tree_flatten_with_path(tree)
    paths = [jax.tree_util.keystr(p) for p, _ in with_path]
    if len(set(paths)) != len(paths):
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        raise _checks.value_error(where, "distinct key paths", f"duplicates {dupes}")
    return paths, [leaf for _, leaf in with_path], treedef


def _to_json(value: Any, at: str = "metadata") -> Any:
    """Return `value` as plain JSON types; numpy/jax scalars become Python ones."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic | np.ndarray | jax.Array) and value.shape == ():
        return _to_json(value.item(), at)
    if isinstance(value, list | tuple):
        return [_to_json(v, f"{at}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise _checks.type_error("save", f"string keys in {at}", repr(bad[0]))
        return {k: _to_json(v, f"{at}[{k!r}]") for k, v in value.items()}
    raise _checks.type_error(
        "save",
        f"JSON values (None, bool, int, float, str, list, dict) in {at}",
        type(value).__name__,
        "convert configs with dataclasses.asdict(config); put arrays in `tree`",
    )


def _versions() -> dict[str, str]:
    versions = {m.__name__: m.__version__ for m in (jax, optax, np)}
    return {"jnn": __version__, **versions}  # same keys and order as before


def _prng_impl() -> str:
    return str(jax.config.jax_default_prng_impl)


def _sha256(file: Path) -> str:
    with open(file, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a folder's entries durable (a no-op where folders cannot be opened)."""
    if os.name == "posix":  # Windows cannot open a folder to fsync it
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_files(tmp: Path, arrays: dict, manifest: dict) -> None:
    """Write arrays.npz and manifest.json (with checksums) into `tmp`, fsynced."""
    with open(tmp / ARRAYS, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    manifest["sha256"] = _sha256(tmp / ARRAYS)
    manifest["files"] = {ARRAYS: manifest["sha256"]}
    with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(tmp)


def encode(step: int, tree: Mapping[str, Any], metadata: Mapping[str, Any]):
    """The (arrays, manifest) of a checkpoint of `tree` and `metadata` at `step`.

    Raises:
      TypeError: if `tree` is not a Mapping, a leaf is not an array, or
        `metadata` is not JSON data.
    """
    paths, leaves, _ = _flatten("save", tree)
    encoded = [_encode_leaf(p, leaf) for p, leaf in zip(paths, leaves, strict=True)]
    manifest = {"format": FORMAT, "version": VERSION, "step": step}
    manifest.update(versions=_versions(), prng_impl=_prng_impl())
    manifest["metadata"] = _to_json(metadata)
    manifest["leaves"] = [record for _, record in encoded]
    arrays = {p: data for p, (data, _) in zip(paths, encoded, strict=True)}
    return arrays, manifest


def _not_found(expected: str, got: str) -> FileNotFoundError:
    hint = "pass a ckpt_* folder, e.g. latest(directory)"
    return FileNotFoundError(f"restore: {_checks.message(expected, got, hint)}")


def _read_manifest(path: Path) -> dict:
    if not path.exists():
        raise _not_found("an existing checkpoint folder", f"no such path '{path}'")
    for name in (MANIFEST, ARRAYS):
        if not (path / name).is_file():
            raise _not_found(f"a checkpoint folder holding {name}", f"'{path}'")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _corrupt(f"valid JSON in '{path / MANIFEST}'", error) from None
    found = manifest  # e.g. a list: reported as is
    if isinstance(manifest, dict):
        found = (manifest.get("format"), manifest.get("version"))
    if found != (FORMAT, VERSION):
        raise _corrupt(f"a {FORMAT} manifest of version {VERSION}", f"{found}")
    _check_fields(path, manifest)
    return manifest


_FIELDS = {"step": int, "leaves": list, "metadata": dict, "sha256": str}
_LEAF_FIELDS = ("path", "shape", "dtype", "storage", "is_prng_key", "impl")


def _check_fields(path: Path, manifest: dict) -> None:
    """Reject a manifest that parses as JSON but lacks what restore reads."""
    bad = [k for k, kind in _FIELDS.items() if not isinstance(manifest.get(k), kind)]
    leaves = manifest.get("leaves")
    if not bad and not all(
        isinstance(r, dict) and all(k in r for k in _LEAF_FIELDS) for r in leaves
    ):
        bad = ["leaves[*]"]
    if bad:
        raise _corrupt(
            f"a complete manifest in '{path / MANIFEST}'",
            f"missing or malformed field(s) {bad}",
            "the checkpoint is corrupt; restore another one",
        )


def _verify_checksum(path: Path, manifest: dict) -> None:
    expected, actual = manifest.get("sha256"), _sha256(path / ARRAYS)
    if actual != expected:
        where = f"{path / ARRAYS} of step {manifest['step']} with sha256 {expected}"
        hint = "the file is corrupt or was modified; restore another checkpoint"
        raise _corrupt(where, f"sha256 {actual}", hint)


def _template_spec(path: str, leaf: Any) -> tuple[tuple[int, ...], str]:
    if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):
        what = f"array or jax.ShapeDtypeStruct leaves in `template`, at {path}"
        raise _checks.type_error("restore", what, type(leaf).__name__)
    return tuple(leaf.shape), str(leaf.dtype)


def _describe(spec: tuple[tuple[int, ...], str]) -> str:
    return f"{spec[1]}{_checks.fmt_shape(spec[0])}"


def _saved_spec(record: dict, want) -> tuple[tuple[int, ...], str]:
    """A leaf's saved (shape, dtype); a typed key saved by an earlier jnn matches
    a template asking for its raw data (run states hold raw key data now)."""
    if record["is_prng_key"] and want is not None and not _is_key_name(want[1]):
        storage = record["storage"]
        return tuple(storage["shape"]), np.dtype(storage["dtype"]).name
    return tuple(record["shape"]), record["dtype"]


def _is_key_name(dtype: str) -> bool:
    return dtype.startswith("key<")


def _check_template(path: Path, manifest: dict, expected: dict, partial: bool):
    """Raise listing every missing, extra and mis-shaped/mis-typed key path."""
    saved = {
        r["path"]: _saved_spec(r, expected.get(r["path"])) for r in manifest["leaves"]
    }
    lines = [
        f"saved but not in template: {p} {_describe(s)}"
        for p, s in saved.items()
        if p not in expected and not partial
    ]
    for p, spec in expected.items():
        if p not in saved:
            lines.append(f"in template but not saved: {p} {_describe(spec)}")
        elif saved[p] != spec:
            lines.append(
                f"mismatched: {p} saved {_describe(saved[p])}, "
                f"expected {_describe(spec)}"
            )
    if lines:
        raise _checks.value_error(
            "restore",
            f"a template matching checkpoint step {manifest['step']} at '{path}'",
            f"{len(lines)} difference(s):\n  " + "\n  ".join(lines),
            "build the template from the same model, optimizer and config",
        )


def _load_entry(path: Path, arrays: Any, leaf: str) -> np.ndarray:
    """Read one entry of arrays.npz, refusing pickled (object-dtype) entries."""
    try:
        return arrays[leaf]
    except ValueError as error:
        if "allow_pickle" not in str(error):  # numpy's refusal to unpickle
            raise
    raise _corrupt(
        f"a plain numeric array at {leaf} in '{path / ARRAYS}'",
        "a pickled object array",
        "jnn never unpickles; this file was not written by "
        "jnn.runs.checkpoint.save, so restore another checkpoint",
    ) from None


def restore(
    path: str | os.PathLike, template: Mapping[str, Any], *, partial: bool = False
) -> tuple[dict, dict]:
    """Load a checkpoint folder into the structure of `template`.

    The result has the template's containers (dicts, tuples, optax
    NamedTuples). Leaves come back bitwise equal: typed PRNG keys as typed
    keys, numpy template leaves as numpy arrays, all others as jax arrays.

    Args:
      path: A `ckpt_*` folder written by `save`, e.g. `latest(directory)`.
      template: A Mapping pytree whose leaves are arrays or
        `jax.ShapeDtypeStruct`s (e.g. from `jax.eval_shape`) with the saved
        key paths, shapes and dtypes.
      partial: Load only the template's leaves (e.g. params without the
        optimizer state); saved leaves it lacks are skipped, not an error.

    Returns:
      `(tree, metadata)`.

    Raises:
      FileNotFoundError: if `path` or one of its two files does not exist.
      ValueError: if the checksum of arrays.npz does not match, the manifest
        is invalid, an entry is a pickled object array, or `template` differs from the saved tree (every missing,
        extra and mismatched key path is listed).
      TypeError: if `template` is not a Mapping or has a non-array leaf.
    """
    path = Path(path)
    manifest = _read_manifest(path)
    _verify_checksum(path, manifest)
    paths, likes, treedef = _flatten("restore", template)
    specs = [_template_spec(p, like) for p, like in zip(paths, likes, strict=True)]
    _check_template(path, manifest, dict(zip(paths, specs, strict=True)), partial)
    records = {r["path"]: r for r in manifest["leaves"]}
    with np.load(path / ARRAYS, allow_pickle=False) as arrays:
        leaves = [
            _decode_leaf(path, records[p], _load_entry(path, arrays, p), like)
            for p, like in zip(paths, likes, strict=True)
        ]
    return jax.tree_util.tree_unflatten(treedef, leaves), manifest["metadata"]


def restore_metadata(path: str | os.PathLike) -> tuple[int, dict]:
    """Return `(step, metadata)` of a checkpoint without loading its arrays.

    Use it to rebuild the template from the saved config before `restore`.
    Only the manifest is read; `restore` verifies the arrays' checksum.

    Raises:
      FileNotFoundError: if `path` or one of its two files does not exist.
      ValueError: if the manifest is not valid JSON of this format version.
    """
    manifest = _read_manifest(Path(path))
    return manifest["step"], manifest["metadata"]
