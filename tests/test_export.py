"""`jnn.export` and `scripts/export.py`: a run's inference leaves jnn.

A tiny config run (standardised inputs, so the normalisation must travel
with the export) is exported once; a fresh Python process that never
imports jnn loads it and must reproduce `run.predict` for batch sizes 1
and 37. GAN and text runs are exported from hand-built `Run`s.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn
from jnn import config as config_lib
from jnn import export, interchange
from jnn import layers as nn
from jnn.runs.restore import Run

pytestmark = pytest.mark.usefixtures("fast_compiles")
ROOT = Path(__file__).resolve().parents[1]
# Seconds of training: a config run, so its saved input normalisation
# (standardize) must travel with the export.
SHRINK = [
    "model.hidden=[8]",
    "model.dropout=0.0",
    "train.epochs=1",
    "train.batch_size=512",
]
# Exported outputs against run.predict: the same ops, but the export embeds
# the params as constants and fuses the normalisation into one program, so
# XLA may fold or reorder a few float32 operations (e.g. a batch-1 dot
# against constant weights, batch norm's scale). Measured: max abs
# difference 1.8e-7 (batch 1) and 7e-7 (batch 37, consumer with default
# XLA options, this process with fast_compiles) on logits up to 4.8;
# 2.4e-7 for the conv + batch-norm model. Not bitwise, hence:
RTOL = ATOL = 1e-6

# Runs in a fresh interpreter (default XLA options): jax and numpy only.
CONSUMER = """
import sys
import jax, numpy as np
with open(sys.argv[1], "rb") as f:
    exported = jax.export.deserialize(bytearray(f.read()))
x = np.load(sys.argv[2])
out = {f"n{n}": np.asarray(exported.call(x[:n])) for n in (1, 37)}
assert "jnn" not in sys.modules, "the consumer imported jnn"
np.savez(sys.argv[3], **out)
"""


def _script():
    spec = importlib.util.spec_from_file_location("export", ROOT / "scripts/export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory):
    """(run directory, the loaded run, Paths of its export)."""
    tmp = tmp_path_factory.mktemp("export")
    cfg = config_lib.load(ROOT / "configs" / "mlp_digits.toml", SHRINK)
    jnn.train.fit_config(cfg, tmp / "run", log=None, progress=False)
    paths = export.save(tmp / "run", tmp / "out" / "digits.jax")  # a path: loads it
    return tmp / "run", jnn.load_run(tmp / "run"), paths


def _raw_inputs(n: int) -> np.ndarray:
    x = jnn.data.load_digits().x[:n]  # pixels 0..16: raw, as predict takes them
    return np.asarray(x, np.float32)


def test_a_process_without_jnn_reproduces_predict(exported_run, tmp_path):
    _, run, paths = exported_run
    x = _raw_inputs(37)
    np.save(tmp_path / "x.npy", x)
    result = tmp_path / "y.npz"
    args = [paths.model, tmp_path / "x.npy", result]
    subprocess.run(
        [sys.executable, "-c", CONSUMER, *map(str, args)],
        check=True,
        cwd=tmp_path,
        env={"JAX_PLATFORMS": "cpu", "PATH": ""},
    )
    with np.load(result) as got:
        for n in (1, 37):
            want = np.asarray(run.predict(x[:n]))
            assert got[f"n{n}"].shape == want.shape == (n, 10)
            np.testing.assert_allclose(got[f"n{n}"], want, rtol=RTOL, atol=ATOL)


def test_signature_describes_inputs_outputs_and_run(exported_run):
    run_dir, run, paths = exported_run
    assert paths.signature == paths.model.with_name("digits.jax.json")
    sig = json.loads(paths.signature.read_text())
    assert sig["format"] == "jnn.export" and sig["file"] == "digits.jax"
    assert sig["inputs"] == {
        "shape": ["b", 8, 8, 1],
        "dtype": "float32",
        "batch_dim": "b",
        "normalised_inside": True,
    }
    assert sig["outputs"]["shape"] == ["b", 10]
    assert sig["outputs"]["meaning"] == "logits over 10 classes"
    assert (
        sig["class_names"] == [str(d) for d in range(10)] or sig["class_names"] is None
    )
    assert sig["versions"] == {"jnn": jnn.__version__, "jax": jax.__version__}
    assert sig["run"] == {
        "path": str(run_dir.resolve()),
        "step": run.step,
        "task": "supervised",
    }
    assert sig["platforms"] == [jax.default_backend()]


def _random_init(model, x_spec):
    """Random params and state of `model`'s shapes: no eager init to compile."""
    specs = jax.eval_shape(model.init, jax.random.key(0), x_spec)
    rng = np.random.default_rng(0)
    return jax.tree.map(lambda s: rng.uniform(0.5, 1.5, s.shape).astype(s.dtype), specs)


def _fake_run(task: str, model, x_spec, metadata: dict) -> Run:
    params, state = _random_init(model, x_spec)

    def apply(p, s, x):
        return model.apply(p, s, x, train=False)[0]

    return Run(
        Path("r"),
        Path("r/c"),
        task,
        {},
        model,
        params,
        state,
        3,
        metadata,
        None,
        jax.jit(apply),
    )


def test_gan_run_exports_its_generator(tmp_path):
    meta = {"inputs": {"shape": [4], "dtype": "float32"}, "x_shape": [6]}
    run = _fake_run("gan", nn.dense(6), jnp.zeros((1, 4)), meta)
    paths = export.save(run, tmp_path / "g.jax")
    sig = json.loads(paths.signature.read_text())
    assert sig["outputs"]["shape"] == ["b", 6]
    assert sig["outputs"]["meaning"].startswith("samples from the generator")
    z = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    exp = jax.export.deserialize(bytearray(paths.model.read_bytes()))
    np.testing.assert_array_equal(exp.call(z), run.predict(z))


def test_text_run_exports_next_token_logits_with_its_vocab(tmp_path):
    model = nn.serial(nn.embedding(3, 4), nn.dense(3))
    meta = {
        "inputs": {"shape": [5], "dtype": "int32"},
        "vocab": "abc",
        "num_classes": 3,
    }
    run = _fake_run("supervised", model, jnp.zeros((1, 5), jnp.int32), meta)
    sig = json.loads(export.save(run, tmp_path / "t.jax").signature.read_text())
    assert sig["inputs"]["shape"] == ["b", 5] and sig["inputs"]["dtype"] == "int32"
    assert sig["outputs"]["shape"] == ["b", 5, 3] and sig["vocab"] == "abc"
    assert (
        sig["outputs"]["meaning"]
        == "next-token logits over 3 characters at each position"
    )


def test_save_model_exports_a_python_model(tmp_path):
    model = nn.named(conv=nn.conv(2, (3, 3)), bn=nn.batch_norm(), flat=nn.flatten())
    params, state = _random_init(model, jnp.zeros((1, 5, 5, 1)))
    paths = export.save_model(
        model, params, state, jnp.zeros((9, 5, 5, 1)), tmp_path / "m"
    )
    exp = jax.export.deserialize(bytearray(paths.model.read_bytes()))
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 1)).astype(np.float32)
    want = model.apply(params, state, x)[0]
    np.testing.assert_allclose(exp.call(x), want, rtol=RTOL, atol=ATOL)
    assert json.loads(paths.signature.read_text())["outputs"]["shape"] == ["b", 50]


def test_scalar_spec_is_refused():
    with pytest.raises(
        ValueError, match=r"export: expected `x_spec` with a batch axis"
    ):
        export.exported(nn.dense(2), {}, {}, jnp.zeros(()))


def test_a_recurrent_language_model_exports_with_a_symbolic_batch():
    # The recurrent cells build their carries from the (symbolic) batch size.
    model = jnn.models.sequence_lm(5, hidden=(4,), embed_features=2)
    x = jnp.zeros((1, 3), jnp.int32)
    params, state = _random_init(model, x)
    exp = export.exported(model, params, state, x)
    for batch in (1, 4):
        tokens = np.random.default_rng(batch).integers(0, 5, (batch, 3))
        tokens = tokens.astype(np.int32)
        want = model.apply(params, state, tokens)[0]
        np.testing.assert_allclose(exp.call(tokens), want, rtol=RTOL, atol=ATOL)


def test_missing_flatbuffers_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "flatbuffers", None)  # `import` raises
    with pytest.raises(ImportError, match=r'flatbuffers.*pip install "jnn\[export\]"'):
        export.save_model(nn.dense(2), {}, {}, jnp.zeros((1, 3)), tmp_path / "m")


def test_script_exports_a_run(exported_run, tmp_path, capsys):
    run_dir, run, paths = exported_run
    out = tmp_path / "cli.jax"
    argv = [str(run_dir), "--out", str(out), "--platforms", "cpu,cuda"]
    assert _script()(argv) == 0
    assert "saved to" in capsys.readouterr().out
    exp = jax.export.deserialize(bytearray(out.read_bytes()))
    x = _raw_inputs(4)
    np.testing.assert_allclose(exp.call(x), run.predict(x), rtol=RTOL, atol=ATOL)
    signature = json.loads(Path(f"{out}.json").read_text())
    assert signature.pop("platforms") == ["cpu", "cuda"]  # runs on either
    want = json.loads(paths.signature.read_text())
    assert signature | {"file": "digits.jax", "platforms": ["cpu"]} == want


def test_script_reports_a_bad_path_in_one_line(tmp_path, capsys):
    status = _script()([str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "expected a run or checkpoint directory" in err and "nowhere" in err


def test_script_reports_a_missing_extra(exported_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "flatbuffers", None)
    status = _script()([str(exported_run[0]), "--out", str(tmp_path / "m")])
    assert status == 2
    assert 'pip install "jnn[export]"' in capsys.readouterr().err


def test_script_writes_params_and_state_as_safetensors(exported_run, tmp_path):
    run_dir, run, _ = exported_run
    out = tmp_path / "w.safetensors"
    assert _script()([str(run_dir), "--out", str(out), "--format", "safetensors"]) == 0
    template = {"params": run.params, "state": run.state}
    loaded = interchange.load(out, template)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(template), strict=True):
        np.testing.assert_array_equal(a, b)
    assert interchange.read(out)[1]["step"] == str(run.step)
