"""Checkpoint manager: manifest, retention, leftovers, corruption, faults, no pickle."""

import errno
import json
import os
import pickle
import re
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn
from jnn.runs import checkpoint
from jnn.runs.checkpoint import file_format, latest, restore, save

ROOT = Path(jnn.__file__).resolve().parents[1]
TREE = {"params": {"w": jnp.arange(6.0).reshape(2, 3)}, "key": jax.random.key(0)}


def _snapshot(directory: Path) -> dict:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_manifest_records_versions_prng_impl_and_file_checksums(tmp_path):
    path = save(tmp_path, 1, TREE, {})
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["prng_impl"] == str(jax.config.jax_default_prng_impl)
    assert manifest["versions"]["jnn"] == jnn.__version__
    assert manifest["files"] == {"arrays.npz": manifest["sha256"]}
    key = next(r for r in manifest["leaves"] if r["path"] == "['key']")
    assert key["is_prng_key"] and key["impl"] == "threefry2x32"


def test_prune_keeps_the_newest_and_only_its_own_folders(tmp_path):
    for step in (1, 2, 3, 4):
        save(tmp_path, step, TREE, {})
    (tmp_path / "ckpt_notes").mkdir()
    (tmp_path / "ckpt_00000000.bak").write_text("mine")
    deleted = checkpoint.prune(tmp_path, 2)
    assert [p.name for p in deleted] == ["ckpt_00000001", "ckpt_00000002"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "ckpt_00000000.bak",
        "ckpt_00000003",
        "ckpt_00000004",
        "ckpt_notes",
    ]
    assert checkpoint.prune(tmp_path, 0) == []  # 0 keeps all
    with pytest.raises(ValueError, match="`keep` >= 0, got -1"):
        checkpoint.prune(tmp_path, -1)


def test_clean_temporaries_restores_a_checkpoint_moved_aside(tmp_path):
    save(tmp_path, 1, TREE, {})
    path = save(tmp_path, 2, TREE, {"v": 2})
    before = _snapshot(path)
    trash = Path(tempfile.mkdtemp(prefix=".tmp-old-ckpt_00000002-", dir=tmp_path))
    os.rename(path, trash / path.name)  # killed mid-swap by an overwrite
    (tmp_path / ".tmp-ckpt_00000003-x").mkdir()  # killed mid-save
    assert latest(tmp_path).name == "ckpt_00000001"
    removed = checkpoint.clean_temporaries(tmp_path)
    assert sorted(removed) == [".tmp-ckpt_00000003-x", trash.name]
    assert latest(tmp_path) == path and _snapshot(path) == before
    assert checkpoint.clean_temporaries(tmp_path / "missing") == []


def _corrupt(path: Path, how: str) -> str:
    arrays, manifest = path / "arrays.npz", path / "manifest.json"
    if how == "flipped byte":
        data = bytearray(arrays.read_bytes())
        data[len(data) // 3] ^= 0x01
        arrays.write_bytes(bytes(data))
        return r"arrays\.npz of step 5 with sha256"
    if how == "truncated":
        arrays.write_bytes(arrays.read_bytes()[:100])
        return r"arrays\.npz of step 5 with sha256"
    if how == "missing file":
        arrays.unlink()
        return r"holding arrays\.npz, got '.*ckpt_00000005'"
    if how == "garbled manifest":
        manifest.write_text(manifest.read_text()[:-40])
        return r"valid JSON in '.*ckpt_00000005/manifest\.json'"
    data = json.loads(manifest.read_text())  # valid JSON, fields missing
    del data["leaves"]
    manifest.write_text(json.dumps(data))
    return r"complete manifest in '.*ckpt_00000005/manifest\.json'.*'leaves'"


@pytest.mark.parametrize(
    "how",
    ["flipped byte", "truncated", "missing file", "garbled manifest", "manifest field"],
)
def test_corruption_names_the_file_and_step(tmp_path, how):
    path = save(tmp_path, 5, TREE, {})
    match = _corrupt(path, how)
    error = FileNotFoundError if how == "missing file" else ValueError
    with pytest.raises(error, match=match):
        restore(path, TREE)


def test_explicit_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such path '.*ckpt_00000042'"):
        restore(tmp_path / "ckpt_00000042", TREE)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half_then_enospc(file, **arrays):
    file.write(b"PK\x03\x04 partial zip")  # some bytes reach the disk first
    _enospc()


def _bad_leaf(path, leaf):
    raise RuntimeError(f"cannot serialise {path}")


FAULTS = {
    "serialisation": ("_encode_leaf", _bad_leaf, RuntimeError, "cannot serialise"),
    "full disk (arrays)": ("savez", _half_then_enospc, OSError, "No space left"),
    "full disk (manifest)": ("dump", _enospc, OSError, "No space left"),
    "read-only directory": ("mkdtemp", None, PermissionError, "Permission denied"),
}


def _read_only(*args, **kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))


@pytest.mark.parametrize("fault", list(FAULTS))
def test_faults_surface_and_keep_the_previous_checkpoint(tmp_path, monkeypatch, fault):
    previous = save(tmp_path, 1, TREE, {"v": 1})
    before = _snapshot(tmp_path)
    name, fn, error, match = FAULTS[fault]
    owner = {"savez": np, "dump": json, "mkdtemp": tempfile}.get(name, file_format)
    monkeypatch.setattr(owner, name, fn or _read_only)
    with pytest.raises(error, match=match):
        save(tmp_path, 2, {**TREE, "params": {"w": jnp.zeros((2, 3))}}, {"v": 2})
    with pytest.raises(error, match=match):
        save(tmp_path, 1, TREE, {"v": 3}, overwrite=True)
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before and latest(tmp_path) == previous


def test_a_real_read_only_directory_raises(tmp_path):
    previous = save(tmp_path, 1, TREE, {})
    before = _snapshot(tmp_path)
    tmp_path.chmod(0o555)
    try:
        if os.access(tmp_path, os.W_OK):  # root ignores permissions
            return
        with pytest.raises(PermissionError):
            save(tmp_path, 2, TREE, {})
    finally:
        tmp_path.chmod(0o755)
    assert _snapshot(tmp_path) == before and latest(tmp_path) == previous


PICKLE_USE = re.compile(
    r"^\s*(import|from)\s+\S*pickle|allow_pickle\s*=\s*True|pickle\.(loads?|dumps?)\(",
    re.MULTILINE,
)


def test_no_pickle_anywhere_in_the_code_base():
    dirs = ("jnn", "scripts", "benchmarks")
    sources = [p for d in dirs for p in ROOT.joinpath(d).rglob("*.py")]
    offenders = [str(p) for p in sources if PICKLE_USE.search(p.read_text())]
    assert sources and offenders == []


def test_restore_works_with_pickle_disabled(tmp_path, monkeypatch):
    path = save(tmp_path, 3, TREE, {"config": {"a": [1, 2]}})

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    got, meta = restore(path, TREE)
    np.testing.assert_array_equal(got["params"]["w"], TREE["params"]["w"])
    assert meta == {"config": {"a": [1, 2]}}
