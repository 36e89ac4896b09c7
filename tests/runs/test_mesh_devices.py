"""Data-parallel and FSDP runs on 8 CPU devices equal the 1-device run.

The runs happen in one subprocess (`mesh_worker.py`), because the device
count is fixed when JAX starts. Tolerance: on a mesh the gradient over the
global batch is summed in another order (per-device partial sums, then an
all-reduce), so float32 rounding differs by ulps. Adam normalises each
coordinate by its gradient's running scale, so where a gradient is near 0
an ulp-sized difference can move that param by up to a learning rate
(1e-3 here) per step. Measured over the runs' 21-80 steps: params differ by
at most 6.7e-6 (unoptimised compiles, as here) and 1.6e-7 (optimised); the
tests allow 5e-5, 5% of one step. Checkpoints, unlike steps, move between
topologies bitwise.

The suite checks `fit` (data-parallel, FSDP, checkpoints across device
counts, errors); the acceptance run adds the CLI on the digits MLP and CNN
configs and a GAN (each on 1 device and with `--set mesh.data=4`):
`JNN_ACCEPTANCE=1 pytest tests/runs/test_mesh_devices.py`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACCEPTANCE = bool(os.environ.get("JNN_ACCEPTANCE"))
CONFIGS = ["mlp_digits", "cnn_digits"] if ACCEPTANCE else []
needs_acceptance = pytest.mark.skipif(not ACCEPTANCE, reason="JNN_ACCEPTANCE=1")
TOLERANCE = 5e-5


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("mesh")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"  # compiles dominate; same on both
    worker = ROOT / "tests" / "runs" / "mesh_worker.py"
    done = subprocess.run(
        [sys.executable, str(worker), str(out), *CONFIGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


@needs_acceptance
@pytest.mark.parametrize("config", ["mlp_digits", "cnn_digits"])
def test_cli_mesh_data_4_equals_one_device(results, config):
    assert results[f"cli_{config}"] < TOLERANCE


@needs_acceptance
def test_a_gan_on_4_devices_equals_one_device(results):
    assert results["cli_gan_ring"] < TOLERANCE


def test_fit_data_parallel_equals_one_device(results):
    assert results["fit_dp"] < TOLERANCE


def test_fused_steps_on_a_mesh_equal_one_step_per_dispatch_bitwise(results):
    # 26 steps per epoch (1617 rows, batch 64): one dispatch by default
    assert results["fusing_line"] == (
        "fusing  26 steps per dispatch (auto: the whole epoch)"
    )
    assert results["fused_dp_kept"] == 0.0  # the split gathered on the devices
    assert results["fused_dp_streamed"] == 0.0  # host batches split on axis 1


def test_data_parallel_replicates_params(results):
    shards = results["dp_shards"]
    assert shards["['hidden']['weight']"] == [[64, 48]] * 4


def test_fsdp_equals_replicated(results):
    assert results["fit_fsdp"] < TOLERANCE


def test_the_start_block_reports_what_one_device_holds(results):
    # (64*48 + 48 + 48*10) / 8 + 10 floats (the (10,) bias stays whole) =
    # 1840 B; the state adds Adam's two moments of the same layout, the step
    # count, Adam's count and the key: 3 * 1840 + 4 + 4 + 8 B.
    block = " ".join(results["fsdp_start_block"].split())
    assert (
        "mesh data=8, params sharded (fsdp); per device: params 1.8 KiB, "
        "state 5.41 KiB" in block
    )


def test_fsdp_each_device_holds_only_its_shard(results):
    # The largest dimension the 8 devices divide is split; (10,) stays whole.
    params = results["fsdp_shards"]
    assert params["['hidden']['weight']"] == [[8, 48]] * 8  # of (64, 48)
    assert params["['out']['weight']"] == [[6, 10]] * 8  # of (48, 10)
    assert params["['out']['bias']"] == [[10]] * 8
    opt = results["fsdp_opt_shards"]
    assert opt["[0].mu['hidden']['weight']"] == [[8, 48]] * 8
    assert opt["[0].nu['out']['weight']"] == [[6, 10]] * 8


@pytest.mark.parametrize("size", [1, 2])
def test_checkpoint_of_8_devices_restores_on_fewer_bitwise(results, size):
    assert results[f"restore_8_on_{size}_bitwise"] is True
    assert results[f"restore_8_on_{size}_devices"] == [size]


def test_checkpoint_of_1_device_restores_sharded_on_8_bitwise(results):
    assert results["restore_1_on_8_bitwise"] is True
    assert results["restore_1_on_8_shards"]["['hidden']['weight']"] == [[8, 48]] * 8


def test_batch_size_must_divide_over_the_data_axis(results):
    errors = results["errors"]
    assert (
        "expected `batch_size` divisible by the 3 devices of mesh axis 'data', "
        "got 64. Hint: use a multiple of 3, e.g. 66" in errors["fit"]
    )
    assert errors["cli_status"] == 2
    assert "expected `train.batch_size` divisible by the 4 devices" in errors["cli"]
    assert "got 30" in errors["cli"] and "Traceback" not in errors["cli"]
