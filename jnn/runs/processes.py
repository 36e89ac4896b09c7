"""Runs over many processes (one per host): `jax.distributed`, process 0 writes.

Every process runs the same program on the same config: it loads the same
data, computes the same batches and hands the mesh only the rows its own
devices hold (`jnn.runs.mesh.Placement.batch`); XLA's collectives do the
rest. Process 0 alone writes the run directory, the console and the progress
bar; every process takes part in a checkpoint (arrays split across processes
are gathered with a collective, `to_host`) and reads it back on resume.

    [mesh]
    data = 0                        # every device of every process
    coordinator = "auto"            # SLURM, Open MPI, ...: detected by JAX
    # or: coordinator = "10.0.0.1:1234", num_processes = 2, process_id = 0|1

Signals that pre-empt a run must reach every process (as SLURM sends them),
since a checkpoint is a step every process takes together. A process that
fails leaves at once (`leave`); JAX's coordination service then stops the
others with a message when its heartbeats stop (100 s by default).
"""

import os
import sys

import jax
import numpy as np

from jnn import _checks


def initialize(cfg) -> None:
    """Join the processes of `cfg`'s [mesh] (a no-op for `coordinator` = "").

    Call it before anything runs on a device; `jnn.cli` does.

    Raises:
      ValueError: if `num_processes` or `process_id` is set without a
        coordinator, or the process id is not below the process count.
    """
    if not cfg.coordinator:
        if cfg.num_processes or cfg.process_id != -1:
            raise _checks.value_error(
                "mesh",
                "`mesh.num_processes` and `mesh.process_id` only with a `mesh.coordinator`",
                f"num_processes = {cfg.num_processes}, process_id = {cfg.process_id}",
                'set mesh.coordinator = "host:port" (or "auto" on a cluster)',
            )
        return
    if cfg.num_processes and cfg.process_id >= cfg.num_processes:
        raise _checks.value_error(
            "mesh",
            f"`mesh.process_id` < `mesh.num_processes` = {cfg.num_processes}",
            cfg.process_id,
        )
    if jax.distributed.is_initialized():
        return  # research code joined already
    if cfg.coordinator == "auto":
        jax.distributed.initialize()
        return
    jax.distributed.initialize(
        cfg.coordinator,
        cfg.num_processes or None,
        cfg.process_id if cfg.process_id >= 0 else None,
    )


def count() -> int:
    """The processes of this run (1 unless `initialize` joined others)."""
    return jax.process_count()


def is_main() -> bool:
    """Whether this is process 0: the one that writes and prints."""
    return jax.process_index() == 0


def to_host(tree):
    """`tree`'s arrays as host values every process can save.

    A leaf this process holds whole passes through; a replicated one gives
    its local copy; one split across processes is gathered (a collective:
    every process must call this at the same point, as the engine's
    checkpoints do).
    """
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    def host(leaf):
        if not isinstance(leaf, jax.Array) or leaf.is_fully_addressable:
            return leaf
        if leaf.is_fully_replicated:
            return leaf.addressable_data(0)
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data = multihost_utils.process_allgather(
                jax.random.key_data(leaf), tiled=True
            )
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
        return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))

    return jax.tree.map(host, tree)


def leave(status: int) -> int:
    """Return `status`, or, for a failed process of a multi-process run, exit
    now: JAX's orderly shutdown would wait for the others, which wait for
    this one in their next collective."""
    if status == 0 or not jax.distributed.is_initialized() or count() == 1:
        return status
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def failure_note(error: BaseException) -> str | None:
    """A one-line account of a device error in a multi-process run (a
    collective that lost a failed process), or None for any other error."""
    if not jax.distributed.is_initialized() or count() == 1:
        return None
    if not isinstance(error, jax.errors.JaxRuntimeError):
        return None
    first = str(error).split(":", 3)[:3]
    return (
        f"process {jax.process_index()} of {count()}: a computation across "
        f"processes failed ({':'.join(first).strip()}). Hint: another process "
        "of this run probably failed first: see its output"
    )
