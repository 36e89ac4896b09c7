"""The checkpoint store: atomic commits, listing, retention, cleanup.

`save` fills a hidden sibling `.tmp-ckpt_<step>-<random>/` with the files of
`jnn.runs.checkpoint.file_format`, fsyncs it, then `os.rename`s it into place as
`ckpt_<step:08d>/`, so every `ckpt_*` folder is complete; `latest` and
`all_checkpoints` list only those, and skip any `ckpt_*` folder that lacks its
manifest or arrays (e.g. one emptied by hand or by a tool of another version).
Retention (`prune`) runs only after a new checkpoint is committed and deletes
only `ckpt_<digits>` folders, each first renamed into a hidden
`.tmp-pruned-<name>-*/` folder, so a kill mid-delete never leaves a partial
`ckpt_*`. `clean_temporaries` removes what killed saves and prunes left
behind. Both assume the caller holds the run's lock (`jnn.runs.lock`).
"""

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jnn import _checks
from jnn.runs.checkpoint import file_format

_CKPT_NAME = re.compile(r"ckpt_(\d{8,})")


def _test_delay(tmp: Path, step: int) -> None:
    """Test-only hook: announce a save and pause inside it (files in `tmp`).

    Setting JNN_TEST_SAVE_DELAY (seconds) makes each save print
    `jnn-test: saving step N` to stderr and sleep before the commit, so the
    kill test can SIGKILL a run in the middle of a save.
    """
    delay = os.environ.get("JNN_TEST_SAVE_DELAY")
    if delay:
        print(
            f"jnn-test: saving step {step} in {tmp.name}", file=sys.stderr, flush=True
        )
        time.sleep(float(delay))


def _test_prune_delay(trash: Path) -> None:
    """Test-only hook: announce a prune and pause after its rename.

    Setting JNN_TEST_PRUNE_DELAY (seconds) makes `prune` print
    `jnn-test: pruning <name>` to stderr and sleep after moving a checkpoint
    into its hidden `.tmp-pruned-*` folder and before deleting it, so a test
    can SIGKILL the process in the middle of pruning.
    """
    delay = os.environ.get("JNN_TEST_PRUNE_DELAY")
    if delay:
        print(f"jnn-test: pruning {trash.name}", file=sys.stderr, flush=True)
        time.sleep(float(delay))


def _is_complete(folder: Path) -> bool:
    """Whether a checkpoint folder holds both of its files (manifest, arrays)."""
    names = (file_format.MANIFEST, file_format.ARRAYS)
    return all((folder / name).is_file() for name in names)


def _commit(tmp: Path, final: Path) -> None:
    """Rename `tmp` to `final`; an existing `final` is moved aside first."""
    if not final.exists():
        os.rename(tmp, final)
        return
    # Python cannot atomically swap two folders, so the old one moves into a
    # hidden `.tmp-` folder (never listed) and is put back if the swap fails.
    trash = Path(tempfile.mkdtemp(prefix=f".tmp-old-{final.name}-", dir=final.parent))
    try:
        os.rename(final, trash / final.name)
        try:
            os.rename(tmp, final)
        except BaseException:
            os.rename(trash / final.name, final)
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def save(
    directory: str | os.PathLike,
    step: int,
    tree: Mapping[str, Any],
    metadata: Mapping[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write `tree` and `metadata` atomically to `directory/ckpt_<step:08d>/`.

    Args:
      directory: Folder of checkpoints; created if missing.
      step: Training step, >= 0; names the checkpoint.
      tree: A Mapping pytree of jax/numpy arrays, e.g. params, state, optax
        states, a step array and a PRNG key (typed or raw uint32).
      metadata: JSON data (config via `dataclasses.asdict`, epoch, history).
        Tuples come back as lists; numpy/jax scalars as Python numbers.
      overwrite: Replace an existing checkpoint of the same step. Default
        False, so a resumed run cannot silently clobber an earlier one.

    Returns:
      The path of the committed checkpoint folder.

    Raises:
      ValueError: if `step` < 0, or the checkpoint exists and not `overwrite`.
      TypeError: if `step` is not an int, `tree` is not a Mapping, a leaf is
        not an array, or `metadata` is not JSON data.

    Example:
      >>> import tempfile, jax.numpy as jnp
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = save(d, 7, {"w": jnp.ones((2,))}, {"epoch": 1})
      ...     tree, meta = file_format.restore(path, {"w": jnp.zeros((2,))})
      ...     print(path.name, tree["w"], meta)
      ckpt_00000007 [1. 1.] {'epoch': 1}
    """
    _checks.non_negative_int("save", "step", step)
    directory = Path(directory)
    final = path_of(directory, step)
    if final.exists() and not overwrite:
        hint = "pass overwrite=True to replace it"
        raise _checks.value_error("save", f"no checkpoint at '{final}'", "one", hint)
    arrays, manifest = file_format.encode(step, tree, metadata)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=directory))
    try:
        file_format.write_files(tmp, arrays, manifest)
        _test_delay(tmp, step)
        _commit(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a commit
    file_format.fsync_dir(directory)
    return final


def all_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Return the committed `ckpt_*` folders in `directory`, sorted by step.

    Temporary `.tmp-*` folders of unfinished saves are never listed, nor is a
    `ckpt_*` folder without both its manifest and its arrays. A missing
    `directory` has no checkpoints yet and gives `[]`.

    Raises:
      ValueError: if `directory` exists but is not a folder.
    """
    directory = Path(directory)
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise _checks.value_error(
            "all_checkpoints", "a checkpoint folder", f"a file '{directory}'"
        )
    found = []
    for entry in directory.iterdir():
        match = _CKPT_NAME.fullmatch(entry.name)
        if match and entry.is_dir() and _is_complete(entry):
            found.append((int(match[1]), entry))
    return [entry for _, entry in sorted(found)]


def latest(directory: str | os.PathLike) -> Path | None:
    """Return the committed checkpoint with the highest step, or None.

    Raises:
      ValueError: if `directory` exists but is not a folder.
    """
    found = all_checkpoints(directory)
    return found[-1] if found else None


def at_step(directory: str | os.PathLike, step: int) -> Path | None:
    """Return the committed checkpoint of `step` in `directory`, or None."""
    found = [p for p in all_checkpoints(directory) if step_of(p) == step]
    return found[0] if found else None


def path_of(directory: str | os.PathLike, step: int) -> Path:
    """Where `save` commits the checkpoint of `step` in `directory`."""
    return Path(directory) / f"ckpt_{step:08d}"


def step_of(path: Path) -> int:
    """The step a `ckpt_<step>` folder's name gives."""
    return int(_CKPT_NAME.fullmatch(Path(path).name)[1])


def clean_temporaries(directory: str | os.PathLike) -> list[str]:
    """Remove what killed saves and prunes left in `directory`.

    That is the hidden `.tmp-*` folders, and any `ckpt_*` folder lacking its
    manifest or arrays (never listed, so never restored). A save killed between
    moving an old checkpoint aside and committing its replacement leaves the
    old one, complete, in `.tmp-old-<name>-*/<name>`; it is put back first.
    Call this only while holding the run's lock (see `jnn.runs.lock`), so no
    live save owns the folders. Returns the names removed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for entry in sorted(directory.iterdir()):
        if not (entry.name.startswith(".tmp-") and entry.is_dir()):
            continue
        if entry.name.startswith(".tmp-old-"):
            _put_back(directory, entry)
        shutil.rmtree(entry)
        removed.append(entry.name)
    for entry in sorted(directory.iterdir()):
        ckpt = _CKPT_NAME.fullmatch(entry.name) and entry.is_dir()
        if ckpt and not _is_complete(entry):
            shutil.rmtree(entry)
            removed.append(entry.name)
    return removed


def _put_back(directory: Path, trash: Path) -> None:
    """Move a complete checkpoint that a killed swap set aside back into place."""
    for inner in trash.iterdir():
        name_ok = _CKPT_NAME.fullmatch(inner.name) and inner.is_dir()
        if name_ok and _is_complete(inner) and not (directory / inner.name).exists():
            os.rename(inner, directory / inner.name)


def prune(directory: str | os.PathLike, keep: int) -> list[Path]:
    """Delete all but the `keep` newest committed checkpoints (0 keeps all).

    Only folders named like `save` names them (`ckpt_<digits>`) are touched,
    so other files in `directory` are safe. Call it after a save commits: the
    newest checkpoint is never deleted. Each doomed folder is first renamed
    (atomically) into a hidden `.tmp-pruned-<name>-*/` folder and deleted
    there, so a kill mid-delete leaves no partial `ckpt_*`, only a `.tmp-`
    folder for `clean_temporaries`. Returns the deleted paths.

    Raises:
      ValueError: if `keep` is negative.
    """
    _checks.non_negative_int("prune", "keep", keep)
    found = all_checkpoints(directory)
    doomed = found[:-keep] if keep else []
    for path in doomed:
        trash = Path(
            tempfile.mkdtemp(prefix=f".tmp-pruned-{path.name}-", dir=path.parent)
        )
        os.rename(path, trash / path.name)
        _test_prune_delay(trash)
        shutil.rmtree(trash)
    if doomed:
        file_format.fsync_dir(Path(directory))
    return doomed
