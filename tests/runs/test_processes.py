"""Two processes on localhost (2 CPU devices each, gloo collectives) train
one run: the same params as one process on one device (and, with
JNN_ACCEPTANCE=1, as one process on 4 devices); process 0 alone writes. The
two-process run is FSDP-sharded, so its checkpoints gather the shards
across processes (`jnn.runs.processes.to_host`).

Tolerance: the two runs all-reduce the gradient with different algorithms
(gloo across processes, XLA's in-process collective), which sum in another
order: float32 rounding differs by ulps, which Adam can amplify up to its
learning rate per step where a gradient is near 0 (see test_mesh_devices);
5e-5 is allowed (measured: 2.4e-7 on the digits MLP).
"""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jnn import config as config_lib
from jnn.runs import processes
from jnn.runs.mesh import MeshConfig
from jnn.train import fit_config

pytestmark = pytest.mark.usefixtures("fast_compiles")  # as the children compile

ROOT = Path(__file__).resolve().parents[2]
ACCEPTANCE = bool(os.environ.get("JNN_ACCEPTANCE"))
CONFIG = """
[data]
name = "moons"
num_samples = 96
[model]
kind = "mlp"
hidden = [16]
dropout = 0.1
[train]
epochs = 2
batch_size = 8
[mesh]
data = 4
"""


def _launch(config: Path, run: Path, devices: int, *sets: str, cwd=ROOT):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"  # compiles dominate
    argv = [sys.executable, "-m", "jnn.cli", str(config), "--workdir", str(run)]
    for item in sets:
        argv += ["--set", item]
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("processes")
    config = base / "tiny.toml"
    config.write_text(CONFIG)
    port = _free_port()
    joined = [f"mesh.coordinator=localhost:{port}", "mesh.num_processes=2"]
    joined.append("mesh.fsdp=true")
    children = [
        _launch(config, base / "two", 2, *joined, f"mesh.process_id={i}")
        for i in (0, 1)
    ]
    if ACCEPTANCE:
        children.append(_launch(config, base / "four", 4))
    # The reference meanwhile: the same run here, on this process's 1 device.
    cfg = config_lib.load(config, ["mesh.data=1"])
    fit_config(cfg, base / "one", log=None, progress=False)
    outputs = [child.communicate(timeout=300)[0].decode() for child in children]
    for child, out in zip(children, outputs, strict=True):
        assert child.returncode == 0, out[-3000:]
    return base, outputs


def _params(run: Path) -> list[np.ndarray]:
    import jax

    import jnn

    return [np.asarray(a) for a in jax.tree.leaves(jnn.load_run(run).params)]


def test_two_processes_equal_one_process(runs):
    base, _ = runs
    for a, b in zip(_params(base / "two"), _params(base / "one"), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=5e-5)


@pytest.mark.skipif(not ACCEPTANCE, reason="JNN_ACCEPTANCE=1")
def test_two_processes_equal_one_process_on_four_devices(runs):
    base, _ = runs
    for a, b in zip(_params(base / "two"), _params(base / "four"), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=5e-5)


def _gloo(line: str) -> bool:
    """Gloo's own connection log on stderr (C++, not jnn's printing); its
    threads' writes can interleave, splitting "[Gloo] Rank 2 is connected
    to 3 peer ranks" over two lines."""
    return line.startswith("[Gloo]") or "peer ranks" in line


def test_only_process_0_writes_and_prints(runs):
    base, (first, second, *_) = runs
    assert "ep 2/2" in first and "saved to" in first
    # each process fed its rows of K stacked batches (`jnn.runs.fusing`)
    assert re.search(r"fusing  \d+ steps per dispatch \(auto: the whole epoch\)", first)
    lines = second.splitlines()
    printed = [x for x in lines if x.strip() and not _gloo(x)]
    assert printed == []
    metrics = (base / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 2  # one record per epoch, written once
    assert "process_id = 0" in (base / "two" / "config.toml").read_text()


def test_process_settings_need_a_coordinator():
    with pytest.raises(
        ValueError,
        match=r"expected `mesh.num_processes` and `mesh.process_id` only with a "
        r"`mesh.coordinator`, got num_processes = 2, process_id = -1",
    ):
        processes.initialize(MeshConfig(num_processes=2))


def test_process_id_must_be_below_the_count():
    with pytest.raises(
        ValueError,
        match=r"expected `mesh.process_id` < `mesh.num_processes` = 2, got 2",
    ):
        processes.initialize(
            MeshConfig(coordinator="localhost:1", num_processes=2, process_id=2)
        )


def test_one_process_gathers_nothing():
    tree = {"w": np.ones(3)}
    assert processes.to_host(tree) is tree
    assert processes.count() == 1 and processes.is_main()


@pytest.mark.skipif(not ACCEPTANCE, reason="~40 s: JNN_ACCEPTANCE=1 runs it")
def test_a_failed_process_stops_the_others_with_a_message(tmp_path):
    # Process 1 finds no data file (a relative path, another working folder):
    # it reports that and leaves; process 0's next collective fails.
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    np.savez(tmp_path / "a" / "data.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    config = tmp_path / "arrays.toml"
    config.write_text(
        '[data]\nname = "arrays"\npath = "data.npz"\n[model]\nhidden = [8]\n'
        "[train]\nepochs = 100\nbatch_size = 8\n[mesh]\ndata = 4\n"
    )
    joined = [f"mesh.coordinator=localhost:{_free_port()}", "mesh.num_processes=2"]
    run = tmp_path / "run"
    children = [
        _launch(config, run, 2, *joined, f"mesh.process_id={i}", cwd=tmp_path / n)
        for i, n in ((0, "a"), (1, "b"))
    ]
    first, second = (child.communicate(timeout=300)[0].decode() for child in children)
    assert children[1].returncode == 2
    assert "expected `data.path` naming an existing file" in second
    assert children[0].returncode == 1, first[-2000:]
    assert "process 0 of 2: a computation across processes failed" in first
    assert "another process of this run probably failed first" in first
