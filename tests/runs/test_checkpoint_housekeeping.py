"""Checkpoint housekeeping: kill-safe pruning, incomplete folders, pickled entries."""

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import jnn
from jnn import JnnValueError
from jnn.runs import checkpoint
from jnn.runs.checkpoint import all_checkpoints, latest, restore, save

ROOT = Path(jnn.__file__).resolve().parents[1]
TREE = {"w": jnp.arange(3.0)}
PRUNE = "import sys; from jnn.runs import checkpoint; checkpoint.prune(sys.argv[1], 1)"


def _names(directory: Path) -> list[str]:
    return [p.name for p in all_checkpoints(directory)]


def test_incomplete_checkpoint_folders_are_not_listed_and_get_cleaned(tmp_path):
    save(tmp_path, 1, TREE, {})
    (tmp_path / "ckpt_00000002").mkdir()  # empty
    only_manifest = save(tmp_path, 3, TREE, {})
    (only_manifest / checkpoint.ARRAYS).unlink()
    only_arrays = save(tmp_path, 4, TREE, {})
    (only_arrays / checkpoint.MANIFEST).unlink()
    assert _names(tmp_path) == ["ckpt_00000001"]
    assert latest(tmp_path).name == "ckpt_00000001"
    removed = checkpoint.clean_temporaries(tmp_path)
    assert removed == ["ckpt_00000002", "ckpt_00000003", "ckpt_00000004"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000001"]


def test_prune_goes_through_a_hidden_folder(tmp_path, monkeypatch):
    for step in (1, 2, 3):
        save(tmp_path, step, TREE, {})
    renames = []
    real_rename = os.rename
    monkeypatch.setattr(
        os, "rename", lambda a, b: renames.append((a, b)) or real_rename(a, b)
    )
    checkpoint.prune(tmp_path, 1)
    assert [Path(a).name for a, _ in renames] == ["ckpt_00000001", "ckpt_00000002"]
    assert all(Path(b).parent.name.startswith(".tmp-pruned-") for _, b in renames)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000003"]


def test_a_kill_during_prune_leaves_no_incomplete_checkpoint(tmp_path):
    for step in (1, 2, 3):
        save(tmp_path, step, TREE, {"step": step})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env["JNN_TEST_PRUNE_DELAY"] = "60"
    child = subprocess.Popen(
        [sys.executable, "-c", PRUNE, str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = child.stderr.readline()  # printed after the first rename
        assert line.startswith("jnn-test: pruning .tmp-pruned-ckpt_00000001-"), line
        trash = tmp_path / line.split()[-1]
        (trash / "ckpt_00000001" / checkpoint.ARRAYS).unlink()  # mid-delete
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        child.kill()
        child.stderr.close()
    assert _names(tmp_path) == ["ckpt_00000002", "ckpt_00000003"]
    for path in all_checkpoints(tmp_path):  # every listed one restores
        assert restore(path, TREE)[1]["step"] == int(path.name[5:])
    assert checkpoint.clean_temporaries(tmp_path) == [trash.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == _names(tmp_path)


def _fix_checksum(path: Path) -> None:
    manifest = json.loads((path / checkpoint.MANIFEST).read_text())
    digest = hashlib.sha256((path / checkpoint.ARRAYS).read_bytes()).hexdigest()
    manifest["sha256"] = digest
    manifest["files"] = {checkpoint.ARRAYS: digest}
    (path / checkpoint.MANIFEST).write_text(json.dumps(manifest))


def test_a_pickled_entry_is_refused_naming_file_and_leaf(tmp_path):
    path = save(tmp_path, 5, {"params": {"w": jnp.zeros(2)}}, {})
    evil = np.empty(2, dtype=object)
    evil[:] = [{"a": 1}, "x"]
    with open(path / checkpoint.ARRAYS, "wb") as f:
        np.savez(f, **{"['params']['w']": evil})
    _fix_checksum(path)
    arrays = str(path / checkpoint.ARRAYS)
    with pytest.raises(JnnValueError) as info:
        restore(path, {"params": {"w": jnp.zeros(2)}})
    text = str(info.value)
    assert text.startswith("restore: expected a plain numeric array at ")
    assert "['params']['w']" in text and arrays in text
    assert "got a pickled object array" in text and "Hint: jnn never unpickles" in text
