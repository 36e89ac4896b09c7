"""`jnn.runs.mesh` on this process's one device: specs, errors, config.

Runs on many devices are in test_mesh_devices.py (a subprocess of 8).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import config as config_lib
from jnn.runs import mesh, resume
from jnn.runs.mesh import MeshConfig, Placement


def test_one_device_places_nothing():
    placement = Placement.of(1)
    assert placement.mesh is None and placement.size == 1
    tree = {"w": np.ones((4, 2), np.float32)}
    assert placement.state(tree) is tree and placement.batch(tree) is tree
    assert placement.describe() == "1 device"
    assert placement.round_up(7) == 7
    placement.check_batch(7, "train.batch_size")  # anything divides over 1


def test_a_one_device_mesh_is_no_mesh():
    one = mesh._make_mesh(1)
    assert Placement.of(one).mesh is None
    assert Placement.of(0).size == jax.device_count()  # 0 = every device


def test_more_devices_than_jax_sees_is_refused():
    with pytest.raises(ValueError, match=r"expected `mesh.data` <= the 1 device"):
        Placement.of(2)
    with pytest.raises(ValueError, match="xla_force_host_platform_device_count"):
        Placement.of(2)


@pytest.mark.parametrize("bad", ["4", -1, 2.0, True])
def test_a_mesh_spec_of_the_wrong_type_is_refused(bad):
    with pytest.raises(TypeError, match=r"expected an int >= 0, a jax\.sharding\.Mesh"):
        Placement.of(bad)


def test_a_mesh_with_explicit_axes_is_refused():
    explicit = jax.make_mesh((1,), ("data",), (jax.sharding.AxisType.Explicit,))
    with pytest.raises(
        ValueError,
        match=r"expected a mesh whose axes are all of type Auto, got axis types "
        r"\('Explicit',\)\. Hint: make it with jax\.make_mesh\(shape, names, "
        r"axis_types=\(jax\.sharding\.AxisType\.Auto,\) \* len\(names\)\)",
    ):
        Placement.of(explicit)


def test_a_mesh_without_a_data_axis_is_refused():
    other = jax.make_mesh((1,), ("model",))
    with pytest.raises(ValueError, match="expected a mesh with a 'data' axis"):
        Placement.of(other)


class _Sized(Placement):
    """A placement that reports `n` devices without having them (specs only)."""

    n: int = 4

    @property
    def size(self) -> int:
        return self.n


def test_fsdp_splits_the_largest_dimension_the_axis_divides():
    fsdp = _Sized(None, fsdp=True)
    spec = lambda shape: mesh._spec(jnp.zeros(shape), fsdp)  # noqa: E731
    assert spec((64, 48)) == jax.sharding.PartitionSpec("data", None)
    assert spec((6, 48)) == jax.sharding.PartitionSpec(None, "data")
    assert spec((10,)) == jax.sharding.PartitionSpec()  # 4 divides no dimension
    assert spec(()) == jax.sharding.PartitionSpec()
    assert spec((8, 8)) == jax.sharding.PartitionSpec("data", None)  # ties: first
    replicated = _Sized(None, fsdp=False)
    assert mesh._spec(jnp.zeros((64, 48)), replicated) == jax.sharding.PartitionSpec()


def test_memory_per_device_counts_only_the_shard():
    tree = {"w": jnp.zeros((64, 48), jnp.float32), "b": jnp.zeros((10,), jnp.float32)}
    assert _Sized(None, fsdp=True).memory(tree) == 64 * 48 * 4 // 4 + 10 * 4
    assert _Sized(None, fsdp=False).memory(tree) == 64 * 48 * 4 + 10 * 4
    line = mesh.describe_memory(_Sized(None, fsdp=False), tree, tree)
    assert line == "per device: params 12 KiB, state 12 KiB"
    assert mesh._size(1000) == "1000 B" and mesh._size(3 * 2**30) == "3 GiB"


def test_batch_sizes_round_up_and_must_divide():
    four = _Sized(None)
    assert four.round_up(1024) == 1024 and four.round_up(30) == 32
    with pytest.raises(
        ValueError,
        match=r"expected `train.batch_size` divisible by the 4 devices of mesh "
        r"axis 'data', got 30\. Hint: use a multiple of 4, e.g. 32",
    ):
        four.check_batch(30, "train.batch_size")


def test_config_mesh_section_defaults_and_values():
    cfg = config_lib.defaults()
    assert cfg.mesh == MeshConfig(data=1, fsdp=False)
    cfg = config_lib.replace(cfg, ["mesh.data=4", "mesh.fsdp=true"])
    assert cfg.mesh == MeshConfig(data=4, fsdp=True)
    assert config_lib.to_dict(cfg)["mesh"] == {
        "data": 4,
        "fsdp": True,
        "coordinator": "",
        "num_processes": 0,
        "process_id": -1,
    }
    with pytest.raises(ValueError, match=r"mesh.data.*>= 0"):
        config_lib.replace(cfg, ["mesh.data=-1"])
    with pytest.raises(ValueError, match=r"mesh\.model"):
        config_lib.replace(cfg, ["mesh.model=2"])


def test_resume_allows_another_mesh_and_logs_it(tmp_path):
    saved = {"train": {"epochs": 3}, "mesh": {"data": 4, "fsdp": False}}
    now = {"train": {"epochs": 3}, "mesh": {"data": 1, "fsdp": False}}
    lines = resume.check_config(saved, now, tmp_path, allow=False)
    assert lines == ["mesh.data: saved 4, now 1"]
    now["train"]["epochs"] = 4
    with pytest.raises(ValueError, match=r"1 difference\(s\):\n  train.epochs"):
        resume.check_config(saved, now, tmp_path, allow=False)


def test_a_mesh_run_on_one_device_is_the_plain_run():
    """`mesh=1` (or a 1-device mesh) changes nothing: bitwise the same run."""
    import optax

    import jnn
    from jnn import layers as nn

    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = nn.named(h=nn.dense(4), a=nn.relu(), o=nn.dense(2))
    kwargs = dict(epochs=2, batch_size=8, log=None, progress=False)
    loss = "sparse_softmax_cross_entropy"
    plain = jnn.train.fit(model, loss, optax.sgd(0.1), (x, y), **kwargs)
    one = mesh._make_mesh(1)
    meshed = jnn.train.fit(model, loss, optax.sgd(0.1), (x, y), mesh=one, **kwargs)
    for a, b in zip(
        jax.tree.leaves(plain.state.params),
        jax.tree.leaves(meshed.state.params),
        strict=True,
    ):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_a_batch_without_its_batch_axis_is_refused():
    one = Placement(mesh._make_mesh(1))  # a mesh, though of one
    with pytest.raises(
        ValueError, match=r"expected batch arrays with a batch axis 0, got shape \(\)"
    ):
        one.batch(np.float32(1))
    with pytest.raises(ValueError, match=r"a batch axis 1, got shape \(4,\)"):
        one.batch({"x": np.zeros(4)}, axis=1)
