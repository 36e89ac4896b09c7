"""`jnn.interchange`: params and state in safetensors files, checked on load.

A round trip into a fresh model's params is bitwise; files prepared
elsewhere with a wrong shape or dtype, or a missing or extra tensor, are
refused naming the tensor. (A run's file via `scripts/export.py --format
safetensors`: tests/test_export.py.)
"""

import sys
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from jnn import interchange
from jnn import layers as nn

pytestmark = pytest.mark.usefixtures("fast_compiles")


class Pair(NamedTuple):  # a NamedTuple node, as optax states are
    w: Any
    b: Any


def _model():
    # named (dict) around serial (tuple), batch-norm state, conv and dense
    return nn.named(
        stem=nn.serial(nn.conv(2, (3, 3)), nn.batch_norm(), nn.relu()),
        flat=nn.flatten(),
        head=nn.dense(3),
    )


@pytest.fixture(scope="module")
def trees():
    """(a tree of values, the fresh template of the same model).

    The template is what `jnn.load_run` builds, `jax.eval_shape(model.init)`
    (no compile); the values stand for trained params and running stats.
    """
    model, x = _model(), jnp.zeros((1, 4, 4, 1))
    params, state = jax.eval_shape(model.init, jax.random.key(0), x)
    template = {"params": params, "state": state}
    rng = np.random.default_rng(0)
    tree = jax.tree.map(lambda s: rng.normal(size=s.shape).astype(s.dtype), template)
    return tree, template


def test_names_follow_key_paths(trees):
    got = sorted(interchange.names(trees[0]))
    assert got == [
        "params.head.bias",
        "params.head.weight",
        "params.stem.0.bias",
        "params.stem.0.weight",
        "params.stem.1.bias",
        "params.stem.1.scale",
        "state.stem.1.mean",
        "state.stem.1.var",
    ]


def test_round_trip_into_a_fresh_template_is_bitwise(trees, tmp_path):
    tree, template = trees
    file = interchange.save(tree, tmp_path / "w.safetensors", metadata={"note": "x"})
    loaded = interchange.load(file, template)
    assert jax.tree.structure(loaded) == jax.tree.structure(tree)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(tree), strict=True):
        assert isinstance(a, jax.Array) and a.dtype == b.dtype
        assert np.asarray(a).tobytes() == b.tobytes()  # bitwise
    tensors, meta = interchange.read(file)  # other tools see plain tensors
    assert meta["note"] == "x" and meta["format"] == "jnn.params"
    np.testing.assert_array_equal(
        tensors["params.head.weight"], tree["params"]["head"]["weight"]
    )


def test_lists_tuples_and_namedtuples_round_trip(tmp_path):
    pair = Pair(np.ones(2, np.float32), np.zeros((1, 2), np.int32))
    tree = {"a": [np.ones(2, np.float32), (pair,)]}
    tree["b"] = jax.ShapeDtypeStruct((3,), np.float32)  # a spec leaf in a template
    data = {"a": tree["a"], "b": np.arange(3, dtype=np.float32)}
    interchange.save(data, tmp_path / "t.safetensors")
    names = ["a.0", "a.1.0.b", "a.1.0.w", "b"]
    assert sorted(load_file(tmp_path / "t.safetensors")) == names
    loaded = interchange.load(tmp_path / "t.safetensors", tree)
    assert isinstance(loaded["a"], list) and isinstance(loaded["a"][1][0], Pair)
    assert loaded["a"][1][0].b.dtype == jnp.int32
    np.testing.assert_array_equal(loaded["b"], data["b"])


def _edited(tmp_path, trees, edit) -> str:
    """A file prepared elsewhere: the round-trip tensors, changed by `edit`."""
    tensors = {k: np.asarray(v) for k, v in interchange.names(trees[0]).items()}
    edit(tensors)
    save_file(tensors, tmp_path / "edited.safetensors")
    return tmp_path / "edited.safetensors"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.update({"params.head.bias": np.zeros(4, np.float32)}),
            r"mismatched: params.head.bias in file float32\(4,\), expected float32\(3,\)",
        ),
        (
            lambda t: t.update({"state.stem.1.var": np.ones(2, np.float16)}),
            r"mismatched: state.stem.1.var in file float16\(2,\), expected float32\(2,\)",
        ),
        (
            lambda t: t.pop("params.stem.0.weight"),
            r"in template but not in file: params.stem.0.weight float32\(3, 3, 1, 2\)",
        ),
        (
            lambda t: t.update({"params.tail.weight": np.ones(1, np.float32)}),
            r"in file but not in template: params.tail.weight float32\(1,\)",
        ),
    ],
    ids=["shape", "dtype", "missing", "extra"],
)
def test_a_mismatched_file_is_refused_naming_the_tensor(trees, tmp_path, edit, message):
    file = _edited(tmp_path, trees, edit)
    with pytest.raises(
        ValueError, match=r"interchange.load: expected tensors matching"
    ) as info:
        interchange.load(file, trees[1])
    assert "1 difference(s)" in str(info.value)
    assert info.match(message)


def test_a_key_with_the_separator_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"expected dict keys without '.'.*'conv.0'"):
        interchange.save({"conv.0": np.ones(1, np.float32)}, tmp_path / "x")


def test_a_non_numpy_dtype_is_refused_naming_the_tensor(tmp_path):
    tree = {"w": jnp.ones(2, jnp.bfloat16)}
    with pytest.raises(
        TypeError, match=r"a NumPy dtype .* for tensor w, got dtype bfloat16"
    ):
        interchange.save(tree, tmp_path / "x")


def test_non_text_metadata_is_refused(tmp_path):
    with pytest.raises(
        TypeError, match=r"expected str: str `metadata`, got 'step': int"
    ):
        interchange.save({}, tmp_path / "x", metadata={"step": 3})


def test_a_missing_or_unreadable_file_is_refused(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"expected a safetensors file, got .*no such"
    ):
        interchange.load(tmp_path / "none.safetensors", {})
    (tmp_path / "bad").write_bytes(b"not a safetensors file")
    with pytest.raises(
        ValueError, match=r"expected a safetensors file of NumPy dtypes"
    ):
        interchange.read(tmp_path / "bad")


def test_missing_safetensors_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(
        ImportError, match=r'safetensors.*pip install "jnn\[safetensors\]"'
    ):
        interchange.save({}, tmp_path / "x")
