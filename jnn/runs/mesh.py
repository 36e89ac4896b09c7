"""Runs on many devices: a `[mesh]` of devices and where a run's arrays live.

The same run goes on 1 device or N through JAX's own SPMD machinery: a
`jax.sharding.Mesh` with a `data` axis, `NamedSharding`s on the arrays and
XLA's collectives. Nothing here writes a collective by hand: the engine puts
the state and each batch where a `Placement` says, and the jitted step (the
same one a single device runs) is partitioned by the compiler, which sums the
gradient over the global batch with an all-reduce.

- Data parallelism (`data` > 1): every batch is split on its leading axis
  over the `data` axis; params and optimizer state are replicated.
- FSDP-style (`fsdp = true`): params and optimizer state are also split over
  `data`, each array on its largest dimension that the axis size divides
  (arrays with none stay replicated), so a device holds only its shard.

With one device (`data = 1`, the default) nothing is placed and nothing
changes: the run is bitwise the single-device run it always was.

A mesh built in Python:

  >>> placement = Placement.of(1)            # or Placement.of(4), of(mesh), ...
  >>> placement.size, placement.describe()
  (1, '1 device')
"""

import math
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jnn import _checks
from jnn.config.loader import NON_NEGATIVE, Rule, setting

AXIS = "data"  # the mesh axis batches (and FSDP shards) are split over


@dataclass(frozen=True)
class MeshConfig:
    """[mesh]: the devices a run spreads over (`jnn.runs.mesh`)."""

    data: int = setting(1, rule=NON_NEGATIVE)  # devices on the data axis; 0 = all
    fsdp: bool = False  # also split params and optimizer state over `data`
    # Many processes (one per host, `jnn.runs.processes`): "" = this process
    # alone; "auto" = detected from the cluster (SLURM, Open MPI, ...);
    # "host:port" = process 0's address, with the two settings below.
    coordinator: str = ""
    num_processes: int = setting(0, rule=NON_NEGATIVE)  # 0 = from the cluster
    process_id: int = setting(-1, rule=Rule(">= -1", lambda v: v >= -1))  # -1 = ditto


def _make_mesh(size: int) -> Mesh:
    """A 1-D mesh over the first `size` devices (all processes' devices)."""
    available = jax.device_count()
    if size > available:
        raise _checks.value_error(
            "mesh",
            f"`mesh.data` <= the {available} device(s) JAX sees",
            size,
            "on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N "
            "before JAX starts to test with N devices",
        )
    auto = (jax.sharding.AxisType.Auto,)  # the compiler propagates shardings
    return jax.make_mesh((size,), (AXIS,), auto, devices=jax.devices()[:size])


def _check_mesh(mesh: Mesh) -> None:
    if AXIS not in mesh.axis_names:
        raise _checks.value_error(
            "mesh", f"a mesh with a {AXIS!r} axis", mesh.axis_names
        )
    auto = jax.sharding.AxisType.Auto
    if any(kind != auto for kind in mesh.axis_types):
        raise _checks.value_error(
            "mesh",
            "a mesh whose axes are all of type Auto",
            f"axis types {tuple(kind.name for kind in mesh.axis_types)}",
            "make it with jax.make_mesh(shape, names, "
            "axis_types=(jax.sharding.AxisType.Auto,) * len(names))",
        )


@dataclass(frozen=True)
class Placement:
    """Where a run's arrays live: its mesh (None: the default device alone).

    Hashable, so the engine's jitted loop takes it as a static argument and
    one placement compiles once.
    """

    mesh: Mesh | None = None
    fsdp: bool = False

    @classmethod
    def of(cls, spec: "int | Mesh | Placement | None", fsdp: bool = False):
        """A placement from a data-axis size (0 = all devices), a `Mesh` with
        a "data" axis, a `Placement` (returned as is) or None (one device).

        Raises:
          ValueError: if the size exceeds the devices, or the mesh has no
            "data" axis or an axis not of type Auto (jnn leaves the
            partitioning of its steps to the compiler).
          TypeError: for any other `spec`.
        """
        if isinstance(spec, Placement):
            return spec
        if spec is None:
            return cls(None, fsdp)
        if isinstance(spec, Mesh):
            _check_mesh(spec)
            return cls(spec if spec.size > 1 else None, fsdp)
        if isinstance(spec, bool) or not isinstance(spec, int) or spec < 0:
            raise _checks.type_error(
                "mesh", "an int >= 0, a jax.sharding.Mesh or None", repr(spec)
            )
        size = spec or jax.device_count()
        return cls(_make_mesh(size) if size > 1 else None, fsdp)

    @classmethod
    def from_config(cls, cfg: MeshConfig) -> "Placement":
        """The placement of a config's `[mesh]`."""
        return cls.of(cfg.data, cfg.fsdp)

    @property
    def size(self) -> int:
        """Devices on the data axis (1 without a mesh)."""
        return 1 if self.mesh is None else self.mesh.shape[AXIS]

    def describe(self) -> str:
        """The start block's mesh line."""
        if self.mesh is None:
            return "1 device"
        spread = "sharded (fsdp)" if self.fsdp else "replicated"
        return f"data={self.size}, params {spread}"

    def round_up(self, batch_size: int) -> int:
        """The smallest multiple of the data-axis size >= `batch_size`."""
        return math.ceil(batch_size / self.size) * self.size

    def check_batch(self, batch_size: int, where: str) -> None:
        """Raise unless `batch_size` divides over the data axis.

        Raises:
          ValueError: naming `where` (e.g. "train.batch_size") and a fix.
        """
        if batch_size % self.size:
            raise _checks.value_error(
                "mesh",
                f"`{where}` divisible by the {self.size} devices of mesh axis {AXIS!r}",
                batch_size,
                f"use a multiple of {self.size}, e.g. {self.round_up(batch_size)}",
            )

    # -- placing arrays (on the host, outside jit) -----------------------------

    def state(self, tree):
        """`tree` (a run's state) on the mesh: replicated, or FSDP shards."""
        if self.mesh is None:
            return tree
        return self._place(tree, self.state_shardings(tree))

    def _place(self, tree, shardings):
        if jax.process_count() == 1:
            return jax.device_put(tree, shardings)
        return jax.tree.map(_put_global, tree, shardings)

    def state_shardings(self, tree):
        """The `NamedSharding` of every leaf of a state `tree`."""
        return jax.tree.map(lambda leaf: self._sharding(_spec(leaf, self)), tree)

    def batch(self, tree, axis: int = 0):
        """A host batch as global arrays split on their batch axis: the
        leading one, or `axis` (1 for K batches stacked for a fused dispatch).

        Each process hands over the rows of the global batch; only the rows
        its own devices hold are copied (one process: all of them).

        Raises:
          ValueError: if a leaf's batch axis does not divide over the axis.
        """
        if self.mesh is None:
            return tree
        leaves = jax.tree.leaves(tree)
        if all(isinstance(leaf, jax.Array) and _on(leaf, self.mesh) for leaf in leaves):
            return tree  # placed already: a tree.map would cost ~3 us a step
        return jax.tree.map(lambda leaf: self._split(leaf, axis), tree)

    def replicate(self, tree):
        """`tree` whole on every device of the mesh (e.g. a data set a step
        samples its batches from); `batch` passes such arrays through."""
        if self.mesh is None:
            return tree
        return self._place(tree, jax.tree.map(lambda _: self._sharding(P()), tree))

    def _split(self, leaf, axis: int) -> jax.Array:
        if isinstance(leaf, jax.Array) and _on(leaf, self.mesh):
            return leaf  # placed already (`replicate`)
        leaf = np.asarray(leaf)
        if leaf.ndim <= axis:
            raise _checks.value_error(
                "mesh", f"batch arrays with a batch axis {axis}", f"shape {leaf.shape}"
            )
        self.check_batch(leaf.shape[axis], "batch size")
        sharding = self._sharding(_batch_spec(axis))
        rows = (slice(None),) * axis + (_local_rows(sharding, leaf.shape, axis),)
        return jax.make_array_from_process_local_data(sharding, leaf[rows], leaf.shape)

    # -- inside jit ------------------------------------------------------------

    def constrain(self, tree):
        """Pin a state `tree`'s shardings inside a jitted step (identity
        without a mesh), so the step's output keeps the input's layout."""
        if self.mesh is None:
            return tree
        return jax.lax.with_sharding_constraint(tree, self.state_shardings(tree))

    def split(self, x: jax.Array, axis: int = 0) -> jax.Array:
        """Split a batch made inside a jitted step (sampled, or noise) over
        the data axis on its batch axis, the leading one or `axis` (identity
        without a mesh)."""
        if self.mesh is None:
            return x
        return jax.lax.with_sharding_constraint(x, self._sharding(_batch_spec(axis)))

    def _sharding(self, spec: P) -> NamedSharding:
        return NamedSharding(self.mesh, spec)

    # -- reporting -------------------------------------------------------------

    def memory(self, tree) -> int:
        """Bytes of `tree` one device holds under this placement."""
        total = 0
        for leaf in jax.tree.leaves(tree):
            shape, itemsize = _shape(leaf), _itemsize(leaf)
            spec = _spec(leaf, self)
            split = self.size if any(part == AXIS for part in spec) else 1
            total += math.prod(shape) * itemsize // split
        return total


ONE_DEVICE = Placement()  # the default: no mesh, nothing placed


def _put_global(leaf, sharding: NamedSharding) -> jax.Array:
    """A host value every process holds alike, as one array over all processes
    (each copies only what its own devices hold)."""
    is_key = jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
    host = np.asarray(jax.random.key_data(leaf) if is_key else leaf)
    if is_key:  # the key's data has trailing words: replicate them too
        sharding = NamedSharding(sharding.mesh, P(*sharding.spec))
    out = jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])
    return (
        jax.random.wrap_key_data(out, impl=jax.random.key_impl(leaf)) if is_key else out
    )


def _on(leaf: jax.Array, mesh: Mesh) -> bool:
    sharding = getattr(leaf, "sharding", None)
    return isinstance(sharding, NamedSharding) and sharding.mesh == mesh


def _shape(leaf) -> tuple[int, ...]:
    return tuple(getattr(leaf, "shape", ()))


def _itemsize(leaf) -> int:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return 8
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return 8  # a threefry key: two uint32 words
    return np.dtype(dtype).itemsize


def _spec(leaf, placement: Placement) -> P:
    """FSDP: split the largest dimension the axis size divides; else replicate."""
    shape = _shape(leaf)
    if not placement.fsdp or placement.size == 1 or not shape:
        return P()
    dims = [d for d, n in enumerate(shape) if n % placement.size == 0]
    if not dims:
        return P()
    largest = max(dims, key=lambda d: (shape[d], -d))
    return P(*(AXIS if d == largest else None for d in range(len(shape))))


def _batch_spec(axis: int) -> P:
    """Split on `axis` over the data axis, the axes before it whole."""
    return P(*([None] * axis), AXIS)


def _local_rows(sharding: NamedSharding, shape: tuple[int, ...], axis: int) -> slice:
    """The rows (on `axis`) of a global batch this process's devices hold
    (contiguous)."""
    held = set()
    for index in sharding.addressable_devices_indices_map(shape).values():
        held.update(range(*index[axis].indices(shape[axis])))
    first, last = min(held), max(held) + 1
    if len(held) != last - first:  # a mesh whose devices interleave processes
        raise _checks.value_error(
            "mesh", "each process's devices adjacent on the data axis", sorted(held)
        )
    return slice(first, last)


def describe_memory(placement: Placement, params, state: Any) -> str:
    """What one device holds of the params and of the whole state (params,
    optimizer state, ...), for the start block."""
    held = _size(placement.memory(params)), _size(placement.memory(state))
    return "per device: params {}, state {}".format(*held)


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.3g} {unit}" if unit != "B" else f"{count} B"
        count /= 1024
    return f"{count:.3g} GiB"
