"""Checkpoints: bitwise round trips, atomic saves, strict restores."""

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn import JnnTypeError, JnnValueError
from jnn.runs import checkpoint
from jnn.runs.checkpoint import (
    all_checkpoints,
    latest,
    restore,
    restore_metadata,
    save,
)


def _tree():
    params = {
        "dense": {"weight": jnp.arange(6.0).reshape(2, 3), "bias": jnp.ones((3,))},
        "blocks": ({"scale": jnp.full((2,), 0.5, jnp.bfloat16)}, jnp.arange(3)),
    }
    return {
        "params": params,
        "state": {"mean": np.linspace(0.0, 1.0, 4, dtype=np.float32)},
        "opt_state": optax.adam(1e-3).init(params),
        "step": jnp.asarray(7, jnp.int32),
        "key": jax.random.key(3),
        "legacy_key": jax.random.PRNGKey(5),
        "rbg_key": jax.random.key(1, impl="rbg"),
        "flags": np.array([True, False]),
    }


def _bits(leaf):
    """Raw bytes of a leaf (key data for typed keys), for bitwise equality."""
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(leaf).tobytes()


META = {"config": {"optim": {"lr": 1e-3}, "hidden": [4, 8]}, "epoch": 2}


def test_round_trip_is_bitwise_and_keeps_types(tmp_path):
    tree = _tree()
    path = save(tmp_path, 7, tree, META)
    assert path == tmp_path / "ckpt_00000007"
    got, meta = restore(path, _tree())
    assert meta == META
    assert jax.tree.structure(got) == jax.tree.structure(tree)
    assert type(got["opt_state"][0]) is optax.ScaleByAdamState
    pairs = zip(jax.tree.leaves(got), jax.tree.leaves(tree), strict=True)
    for restored, saved in pairs:
        assert type(restored) is type(saved)
        assert restored.dtype == saved.dtype and restored.shape == saved.shape
        assert _bits(restored) == _bits(saved)


def test_restored_keys_still_draw_the_same_numbers(tmp_path):
    tree = _tree()
    got, _ = restore(save(tmp_path, 0, tree, {}), _tree())
    for name in ("key", "rbg_key", "legacy_key"):
        expected = jax.random.normal(tree[name], (3,))
        np.testing.assert_array_equal(jax.random.normal(got[name], (3,)), expected)


def test_restore_into_shape_dtype_structs(tmp_path):
    tree = _tree()
    path = save(tmp_path, 1, tree, {})
    template = jax.eval_shape(_tree)
    assert isinstance(template["key"], jax.ShapeDtypeStruct)
    got, _ = restore(path, template)
    assert _bits(got["params"]["blocks"][0]["scale"]) == _bits(
        tree["params"]["blocks"][0]["scale"]
    )
    assert got["params"]["blocks"][0]["scale"].dtype == jnp.bfloat16
    assert isinstance(got["state"]["mean"], jax.Array)  # no numpy template leaf


def test_restore_metadata_reads_only_the_manifest(tmp_path):
    path = save(tmp_path, 42, _tree(), META)
    (path / "arrays.npz").write_bytes(b"corrupt")  # not read, so no error
    assert restore_metadata(path) == (42, META)
    with pytest.raises(FileNotFoundError, match="no such path"):
        restore_metadata(tmp_path / "ckpt_00000001")
    (path / "manifest.json").write_text("[]")
    with pytest.raises(JnnValueError, match=r"manifest of version 1, got \[\]"):
        restore_metadata(path)


def test_manifest_records_leaves_versions_and_checksum(tmp_path):
    path = save(tmp_path, 3, _tree(), META)
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "manifest.json"]
    manifest = json.loads((path / "manifest.json").read_text())
    assert (manifest["format"], manifest["version"], manifest["step"]) == (
        "jnn.checkpoint",
        1,
        3,
    )
    assert set(manifest["versions"]) == {"jnn", "jax", "optax", "numpy"}
    leaves = {r["path"]: r for r in manifest["leaves"]}
    assert leaves["['key']"]["is_prng_key"] and leaves["['key']"]["impl"] == (
        "threefry2x32"
    )
    assert leaves["['legacy_key']"]["dtype"] == "uint32"
    scale = leaves["['params']['blocks'][0]['scale']"]
    assert scale["dtype"] == "bfloat16" and scale["storage"]["dtype"] == "<u2"
    assert "['opt_state'][0].mu['dense']['weight']" in leaves
    with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
        assert sorted(arrays.files) == sorted(leaves)


def test_metadata_converts_scalars_and_rejects_non_json(tmp_path):
    meta = {"best": jnp.float32(0.25), "history": ({"loss": np.float32(1.5)},)}
    _, got = restore(save(tmp_path, 0, {"w": jnp.ones(1)}, meta), {"w": jnp.ones(1)})
    assert got == {"best": 0.25, "history": [{"loss": 1.5}]}
    with pytest.raises(JnnTypeError, match=r"JSON values .*metadata\['x'\].*set"):
        save(tmp_path, 1, {"w": jnp.ones(1)}, {"x": {1, 2}})
    with pytest.raises(JnnTypeError, match="string keys in metadata"):
        save(tmp_path, 1, {"w": jnp.ones(1)}, {1: "a"})
    assert all_checkpoints(tmp_path) == [tmp_path / "ckpt_00000000"]


def test_save_rejects_bad_arguments(tmp_path):
    with pytest.raises(JnnValueError, match="`step` >= 0, got -1"):
        save(tmp_path, -1, {"w": jnp.ones(1)}, {})
    with pytest.raises(JnnTypeError, match="`step` to be an int"):
        save(tmp_path, 1.0, {"w": jnp.ones(1)}, {})
    with pytest.raises(JnnTypeError, match="`tree` to be a Mapping"):
        save(tmp_path, 1, [jnp.ones(1)], {})
    with pytest.raises(JnnTypeError, match=r"array leaves .* at \['lr'\], got float"):
        save(tmp_path, 1, {"lr": 0.1}, {})
    with pytest.raises(JnnTypeError, match=r"numeric dtype at \['s'\]"):
        save(tmp_path, 1, {"s": np.array(["a"])}, {})
    assert list(tmp_path.iterdir()) == []  # validation happens before any write


def test_existing_step_needs_overwrite(tmp_path):
    save(tmp_path, 4, {"w": jnp.zeros(2)}, {"v": 1})
    with pytest.raises(JnnValueError, match=r"no checkpoint at .*ckpt_00000004"):
        save(tmp_path, 4, {"w": jnp.ones(2)}, {"v": 2})
    path = save(tmp_path, 4, {"w": jnp.ones(2)}, {"v": 2}, overwrite=True)
    got, meta = restore(path, {"w": jnp.zeros(2)})
    np.testing.assert_array_equal(got["w"], np.ones(2))
    assert meta == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000004"]


def test_latest_picks_highest_step_and_ignores_temporaries(tmp_path):
    assert latest(tmp_path / "missing") is None
    assert all_checkpoints(tmp_path) == []
    for step in (3, 12, 100_000_000, 5):
        save(tmp_path, step, {"w": jnp.ones(1)}, {})
    (tmp_path / ".tmp-ckpt_999999999-abc").mkdir()
    (tmp_path / "ckpt_notastep").mkdir()
    (tmp_path / "ckpt_99999999.txt").write_text("")
    names = [p.name for p in all_checkpoints(tmp_path)]
    assert names == [
        "ckpt_00000003",
        "ckpt_00000005",
        "ckpt_00000012",
        "ckpt_100000000",
    ]
    assert latest(tmp_path) == tmp_path / "ckpt_100000000"
    with pytest.raises(JnnValueError, match="a checkpoint folder, got a file"):
        latest(tmp_path / "ckpt_99999999.txt")


def _crash(*args, **kwargs):
    raise OSError("disk full")


@pytest.mark.parametrize("target", ["savez", "rename"])
def test_crash_leaves_no_checkpoint_and_keeps_previous(tmp_path, monkeypatch, target):
    previous = save(tmp_path, 1, {"w": jnp.ones(2)}, {"v": 1})
    before = {p.name: p.read_bytes() for p in previous.iterdir()}
    monkeypatch.setattr(np if target == "savez" else os, target, _crash)
    with pytest.raises(OSError, match="disk full"):
        save(tmp_path, 2, {"w": jnp.zeros(2)}, {"v": 2})
    with pytest.raises(OSError, match="disk full"):
        save(tmp_path, 1, {"w": jnp.zeros(2)}, {"v": 2}, overwrite=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000001"]
    assert {p.name: p.read_bytes() for p in previous.iterdir()} == before
    assert latest(tmp_path) == previous


def test_failed_swap_puts_the_old_checkpoint_back(tmp_path, monkeypatch):
    previous = save(tmp_path, 1, {"w": jnp.ones(2)}, {"v": 1})
    real_rename = os.rename

    def rename(src, dst):
        if Path(src).name.startswith(".tmp-ckpt"):  # the new folder's commit
            raise OSError("power cut")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="power cut"):
        save(tmp_path, 1, {"w": jnp.zeros(2)}, {"v": 2}, overwrite=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000001"]
    assert restore(previous, {"w": jnp.zeros(2)})[1] == {"v": 1}


def test_flipped_byte_fails_the_checksum(tmp_path):
    path = save(tmp_path, 6, _tree(), {})
    data = bytearray((path / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(
        JnnValueError,
        match=r"arrays\.npz of step 6 with sha256 [0-9a-f]{64}, got sha256",
    ):
        restore(path, _tree())


def test_template_mismatch_lists_every_difference(tmp_path):
    tree = {"params": {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}, "n": jnp.ones(1)}
    path = save(tmp_path, 2, tree, {})
    template = {
        "params": {"w": jnp.ones((3, 3)), "c": jnp.ones(3)},
        "n": jnp.ones(1, jnp.int32),
    }
    with pytest.raises(JnnValueError, match="4 difference") as info:
        restore(path, template)
    text = str(info.value)
    assert re.search(
        r"saved but not in template: \['params'\]\['b'\] float32\(3,\)", text
    )
    assert re.search(r"in template but not saved: \['params'\]\['c'\]", text)
    assert re.search(
        r"mismatched: \['params'\]\['w'\] saved float32\(2, 3\), "
        r"expected float32\(3, 3\)",
        text,
    )
    assert re.search(r"mismatched: \['n'\] saved float32\(1,\), expected int32", text)
    key_template = {**tree, "n": jax.random.key(0)}
    with pytest.raises(JnnValueError, match=r"\['n'\] saved float32.*key<fry>"):
        restore(path, key_template)


def test_missing_paths_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such path .*ckpt_00000009"):
        restore(tmp_path / "ckpt_00000009", {})
    path = save(tmp_path, 9, {"w": jnp.ones(1)}, {})
    with pytest.raises(FileNotFoundError, match=r"holding manifest\.json"):
        restore(tmp_path, {"w": jnp.ones(1)})  # the parent, not a ckpt_ folder
    (path / "arrays.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"holding arrays\.npz"):
        restore(path, {"w": jnp.ones(1)})


def test_restore_rejects_bad_manifest_and_template(tmp_path):
    path = save(tmp_path, 0, {"w": jnp.ones(1)}, {})
    with pytest.raises(JnnTypeError, match="`tree` to be a Mapping"):
        restore(path, (jnp.ones(1),))
    with pytest.raises(JnnTypeError, match=r"ShapeDtypeStruct leaves .*\['w'\]"):
        restore(path, {"w": 1.0})
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["version"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(JnnValueError, match=r"manifest of version 1, got .*99"):
        restore(path, {"w": jnp.ones(1)})
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(JnnValueError, match="valid JSON in"):
        restore(path, {"w": jnp.ones(1)})


def test_manifest_that_disagrees_with_the_arrays_is_rejected(tmp_path):
    path = save(tmp_path, 0, {"w": jnp.ones(2, jnp.bfloat16)}, {})
    manifest = json.loads((path / "manifest.json").read_text())
    cases = [
        ({"storage": {"shape": [2], "dtype": "<u4"}}, r"stored as <u4 \(2,\), got <u2"),
        ({"dtype": "float32"}, r"the size of its stored <u2, got float32"),
        ({"dtype": "not_a_dtype"}, r"the size of its stored <u2, got not_a_dtype"),
    ]
    for change, match in cases:
        leaf = {**manifest["leaves"][0], **change}
        (path / "manifest.json").write_text(json.dumps({**manifest, "leaves": [leaf]}))
        template = {"w": SimpleNamespace(shape=(2,), dtype=leaf["dtype"])}
        with pytest.raises(JnnValueError, match=r"\['w'\].*" + match):
            restore(path, template)


def test_float64_is_not_silently_narrowed(tmp_path):
    assert not jax.config.jax_enable_x64
    path = save(tmp_path, 0, {"x": np.array([0.1], np.float64)}, {})
    got, _ = restore(path, {"x": np.zeros(1, np.float64)})
    assert got["x"].dtype == np.float64 and got["x"][0] == 0.1
    template = {"x": jax.ShapeDtypeStruct((1,), np.float64)}
    with pytest.raises(JnnValueError, match="jax_enable_x64 is off"):
        restore(path, template)


def test_module_never_uses_pickle():
    folder = Path(checkpoint.__file__).parent
    source = "".join(f.read_text() for f in sorted(folder.glob("*.py")))
    assert not re.search(r"^\s*(import|from)\s+\S*pickle", source, re.MULTILINE)
    loads = re.findall(r"np\.load\((.*?)\)", source)
    assert loads and all("allow_pickle=False" in call for call in loads)


def test_a_saved_typed_key_restores_into_a_raw_key_template(tmp_path):
    # Run states hold raw key data; checkpoints of typed-key states still load.
    key = jax.random.key(7)
    path = save(tmp_path, 1, {"key": key, "w": jnp.ones(2)}, META)
    raw = {"key": jax.random.key_data(key), "w": jnp.ones(2)}
    got, _ = restore(path, raw)
    assert got["key"].dtype == jnp.uint32
    np.testing.assert_array_equal(got["key"], raw["key"])
    typed, _ = restore(path, {"key": key, "w": jnp.ones(2)})  # still typed
    np.testing.assert_array_equal(jax.random.key_data(typed["key"]), raw["key"])
    with pytest.raises(
        JnnValueError, match=r"mismatched: \['key'\] saved uint32\(2,\)"
    ):
        restore(path, {"key": jnp.zeros(3, jnp.uint32), "w": jnp.ones(2)})
