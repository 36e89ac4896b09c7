"""Runs on 8 CPU devices, in a process of its own (see test_mesh_devices.py).

`python tests/runs/mesh_worker.py OUT [CONFIG ...]` sets XLA_FLAGS for 8
host devices before JAX starts, trains the same runs on 1 device and on a
mesh, and writes what the tests compare to OUT/results.json. Each CONFIG
(e.g. mlp_digits) trains one epoch through the CLI on 1 and on 4 devices.
"""

import json
import os
import sys
from pathlib import Path

DEVICES = 8


def _flat(tree) -> dict:
    import jax
    import numpy as np

    def host(leaf):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        return np.asarray(leaf)

    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {jax.tree_util.keystr(k): host(v) for k, v in leaves}


def _params(run_dir: Path) -> dict:
    import jnn

    return _flat(jnn.load_run(run_dir).params)


def _cli(out: Path, name: str, config: str, *sets: str) -> dict:
    from jnn import cli

    argv = [config, "--workdir", str(out / name)]
    for item in sets:
        argv += ["--set", item]
    assert cli.train_main(argv) == 0, name
    return _params(out / name)


def _max_diff(a: dict, b: dict) -> float:
    import numpy as np

    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def _fit(workdir, mesh, epochs=1, log=None, fuse=0):
    import numpy as np
    import optax

    import jnn
    from jnn import layers as nn
    from jnn.data import load_digits, split
    from jnn.runs.engine import Settings

    train, val, _ = split(load_digits(), 0.1, 0.0, seed=0)
    scaled = lambda d: (d.x / np.float32(16), d.y)  # noqa: E731
    model = nn.named(
        flat=nn.flatten(), hidden=nn.dense(48), act=nn.relu(), out=nn.dense(10)
    )
    return jnn.train.fit(
        model,
        "sparse_softmax_cross_entropy",
        optax.adam(3e-3),
        scaled(train),
        val=scaled(val),
        epochs=epochs,
        batch_size=64,
        workdir=workdir,
        log=log,
        progress=False,
        mesh=mesh,
        settings=Settings(fuse_steps=fuse),  # 0: auto, the epoch in a dispatch
    )


def _shards(tree) -> dict:
    """{key path: [shape of the shard each device holds]} of a placed tree."""
    import jax

    out = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        shards = sorted(leaf.addressable_shards, key=lambda s: s.device.id)
        out[jax.tree_util.keystr(path)] = [list(s.data.shape) for s in shards]
    return out


def _errors(out: Path) -> dict:
    """The messages of a batch size that does not divide over the mesh."""
    import contextlib
    import io

    from jnn import cli

    errors = {}
    try:
        _fit(None, 3)
    except ValueError as error:
        errors["fit"] = str(error)
    stderr = io.StringIO()
    argv = ["configs/mlp_digits.toml", "--workdir", str(out / "bad")]
    argv += ["--set", "mesh.data=4", "--set", "train.batch_size=30"]
    with contextlib.redirect_stderr(stderr):
        errors["cli_status"] = cli.train_main(argv)
    errors["cli"] = stderr.getvalue()
    return errors


def _fused_vs_per_step(dp, lines) -> dict:
    """The fused runs above (auto) against one step per dispatch, on 4
    devices: data kept on the device and data streamed from the host."""
    from jnn.train import supervised

    block = "\n".join(lines).splitlines()
    fused = {"fusing_line": next(x for x in block if "fusing" in x).strip()}
    per_step = _flat(_fit(None, 4, fuse=1).state)
    fused["fused_dp_kept"] = _max_diff(_flat(dp.state), per_step)
    kept, supervised.DEVICE_DATA_BYTES = supervised.DEVICE_DATA_BYTES, 0
    try:
        fused["fused_dp_streamed"] = _max_diff(_flat(_fit(None, 4).state), per_step)
    finally:
        supervised.DEVICE_DATA_BYTES = kept
    return fused


def main(out: Path, configs: list[str]) -> None:
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={DEVICES}"
    import jax
    import numpy as np

    from jnn.runs.mesh import Placement

    assert jax.device_count() == DEVICES
    results = {}
    # The CLI: the digits MLP and CNN configs on 1 device and with mesh.data=4.
    for config in configs:
        path = f"configs/{config}.toml"
        one = _cli(out, f"{config}_1", path, "train.epochs=1")
        four = _cli(out, f"{config}_4", path, "train.epochs=1", "mesh.data=4")
        results[f"cli_{config}"] = _max_diff(one, four)
    if configs:  # a GAN: each real and fake batch split over 4 devices
        gan = ("configs/gan_ring.toml", "train.steps=30", "train.eval_every=15")
        one, four = _cli(out, "gan_1", *gan), _cli(out, "gan_4", *gan, "mesh.data=4")
        results["cli_gan_ring"] = _max_diff(one, four)
    # `fit`: replicated on 4, FSDP on 4 (each device holds its shard).
    single = _fit(None, None)
    dp = _fit(None, 4)
    lines = []
    fsdp = _fit(out / "fsdp8", Placement.of(8, fsdp=True), log=lines.append)
    results["fsdp_start_block"] = next(x for x in lines if x.startswith("start"))
    results["fit_dp"] = _max_diff(_flat(single.state.params), _flat(dp.state.params))
    results["fit_fsdp"] = _max_diff(_flat(dp.state.params), _flat(fsdp.state.params))
    results["fsdp_shards"] = _shards(fsdp.state.params)
    results["fsdp_opt_shards"] = _shards(fsdp.state.opt_state)
    results.update(_fused_vs_per_step(dp, lines))
    results["dp_shards"] = _shards(dp.state.params)
    saved = _flat(fsdp.state)
    # The 8-device checkpoint resumed (finished: no step) on 1 and 2 devices.
    for size in (1, 2):
        again = _fit(out / "fsdp8", size).state
        restored = _flat(again)
        results[f"restore_8_on_{size}_bitwise"] = all(
            np.asarray(saved[k]).tobytes() == np.asarray(restored[k]).tobytes()
            for k in saved
        )
        devices = {len(leaf.sharding.device_set) for leaf in jax.tree.leaves(again)}
        results[f"restore_8_on_{size}_devices"] = sorted(devices)
    # The reverse: a 1-device run resumed on 8 devices, FSDP-sharded.
    one = _fit(out / "one", None).state
    on8 = _fit(out / "one", Placement.of(8, fsdp=True)).state
    results["restore_1_on_8_bitwise"] = all(
        a.tobytes() == b.tobytes()
        for a, b in zip(
            _flat(one.params).values(), _flat(on8.params).values(), strict=True
        )
    )
    results["restore_1_on_8_shards"] = _shards(on8.params)
    results["errors"] = _errors(out)
    (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
