"""Acceptance tests of `jnn.load_run`: a loaded run predicts what evaluation reports.

MLP, CNN and LSTM config runs on raw inputs, a moved run, earlier steps,
params-only loads, a Python run, a text run, fine-tuning (`train.init_from`)
and every documented error of `load_run`, `Run.predict` and `Run.evaluate`.
"""

import dataclasses
import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn import cli
from jnn import config as config_lib
from jnn import layers as nn
from jnn.data import load_digits, split, synthetic
from jnn.data.normalization import NormStats
from jnn.generation.language_model import load_language_model, sample_text
from jnn.runs import checkpoint
from jnn.runs.evaluate import evaluate
from jnn.train import setup, supervised_run

pytestmark = pytest.mark.usefixtures("fast_compiles")
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# Each config shrunk to seconds. mlp: standardize, adamw, a checkpoint per
# epoch; cnn: scale (pixels / 16); lstm: standardize, trained with adam.
SHRINK = {
    "mlp": [
        "model.hidden=[16]",
        "optim.lr=1e-2",
        "train.epochs=2",
        "train.checkpoint_every=1",
    ],
    "cnn": [
        "model.channels=[4]",
        "model.hidden=[8]",
        "data.augment_shift=0",
        "optim.lr=1e-2",
        "train.epochs=1",
    ],
    "lstm": ["model.hidden=[8]", "optim.name=adam", "optim.lr=1e-2", "train.epochs=1"],
}
NAMES = tuple(SHRINK)


def _config(name: str, *extra: str):
    return config_lib.load(CONFIGS / f"{name}_digits.toml", [*SHRINK[name], *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`trained(name)`: the run directory of SHRINK[name], trained once."""
    cache = {}

    def get(name: str) -> Path:
        if name not in cache:
            run = tmp_path_factory.mktemp(name) / "run"
            jnn.train.fit_config(_config(name), run, log=None, progress=False)
            cache[name] = run
        return cache[name]

    return get


def _raw_test(cfg):
    """The test split as stored (pixels 0..16), cut as the config says."""
    d = cfg.data
    _, _, test = split(load_digits(), d.val_fraction, d.test_fraction, d.seed)
    assert test.x.max() == 16.0  # not normalised
    unnormalised = jnn.data.load(dataclasses.replace(d, normalize="none"))
    assert unnormalised.norm is None
    np.testing.assert_array_equal(unnormalised.test.x, test.x)
    return test.x, test.y


def _predict(run, x) -> np.ndarray:
    return np.asarray(run.predict(x))


def _accuracy(run, x, y) -> float:
    return float(np.mean(np.argmax(_predict(run, x), axis=-1) == y))


def _evaluate_script(run_dir: Path, capsys) -> tuple[dict, dict]:
    """What `scripts/evaluate.py RUN --split test` prints and writes."""
    assert cli.evaluate_main([str(run_dir), "--split", "test"]) == 0
    printed = json.loads(capsys.readouterr().out.rsplit("saved to", 1)[0])
    return printed, json.loads((run_dir / "eval_test.json").read_text())


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("name", NAMES)
def test_predict_on_raw_inputs_gives_the_reported_accuracy(trained, name, capsys):
    run_dir = trained(name)
    printed, report = _evaluate_script(run_dir, capsys)
    results = json.loads((run_dir / "results.json").read_text())
    run = jnn.load_run(run_dir)
    x, y = _raw_test(run.config)
    accuracy = _accuracy(run, x, y)
    assert accuracy == printed["accuracy"] == report["accuracy"]
    assert accuracy == results["test"]["accuracy"] == run.evaluate()["accuracy"]
    assert accuracy > 0.15  # better than chance: a trained model
    # predict normalises: raw in == normalised into the bare model, and
    # normalised inputs fed to predict are normalised twice.
    normed = jnn.data.load(run.config.data).test
    np.testing.assert_array_equal(normed.y, y)
    assert run.norm is not None and run.config.data.normalize != "none"
    bare = np.asarray(run.apply(run.params, run.state, normed.x))
    np.testing.assert_allclose(_predict(run, x), bare, rtol=1e-5, atol=1e-5)
    assert not np.allclose(_predict(run, normed.x), bare, atol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_a_moved_run_loads_and_predicts_identically(trained, name, tmp_path, capsys):
    run_dir = trained(name)
    x, y = _raw_test(_config(name))
    before = _predict(jnn.load_run(run_dir), x)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(run_dir, moved)
    try:
        assert not run_dir.exists()
        run = jnn.load_run(moved)
        assert run.path == moved.resolve() and run.checkpoint.parent.parent == run.path
        np.testing.assert_array_equal(_predict(run, x), before)
        _, report = _evaluate_script(moved, capsys)
        assert report["accuracy"] == _accuracy(run, x, y)
        assert report["checkpoint"] == str(run.checkpoint)
    finally:
        shutil.move(moved, run_dir)


def test_step_loads_an_earlier_checkpoint(trained):
    run_dir = trained("mlp")
    folders = checkpoint.all_checkpoints(run_dir / "checkpoints")
    steps = [int(p.name.removeprefix("ckpt_")) for p in folders]
    assert len(steps) == 2 and steps[1] == 2 * steps[0]  # checkpoint_every=1
    final, first = jnn.load_run(run_dir), jnn.load_run(run_dir, step=steps[0])
    assert (final.step, first.step) == (steps[1], steps[0])
    assert first.checkpoint == folders[0].resolve() and first.path == final.path
    assert jax.tree.structure(first.params) == jax.tree.structure(final.params)
    same = jax.tree.map(np.array_equal, first.params, final.params)
    assert not any(jax.tree.leaves(same))  # every leaf trained since
    _assert_trees_equal(jnn.load_run(folders[0], step=steps[0]).params, first.params)
    with pytest.raises(FileNotFoundError, match=r"the checkpoint of step \d+, got '.*"):
        jnn.load_run(folders[0], step=steps[1])  # a folder of another step
    x, _ = _raw_test(first.config)
    assert not np.allclose(_predict(first, x), _predict(final, x))
    missing = steps[0] + 1
    want = rf"no ckpt_{missing:08d}.*available steps: {steps[0]}, {steps[1]}"
    with pytest.raises(FileNotFoundError, match=want):
        jnn.load_run(run_dir, step=missing)


def test_load_reads_params_only_and_never_builds_the_optimizer(trained, monkeypatch):
    run_dir = trained("lstm")
    manifest = json.loads(
        (jnn.load_run(run_dir).checkpoint / "manifest.json").read_text()
    )
    saved = [leaf["path"] for leaf in manifest["leaves"]]
    moments = [p for p in saved if p.startswith("['opt_state']") and ".mu[" in p]
    assert moments  # adam's moments are in the file; load_run skips them

    def refuse(*args, **kwargs):
        raise AssertionError("load_run built an optimizer")

    monkeypatch.setattr(jnn.train.optim, "build", refuse)
    run = jnn.load_run(run_dir)
    assert run.config.optim.name == "adam" and "opt_state" not in run._fields
    shape = tuple(run.metadata["inputs"]["shape"])
    spec = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
    params, state = jax.eval_shape(run.model.init, jax.random.key(0), spec)
    assert jax.tree.structure(run.params) == jax.tree.structure(params)
    assert jax.tree.structure(run.state) == jax.tree.structure(state)
    shapes = jax.tree.map(lambda a: (a.shape, a.dtype), run.params)
    assert shapes == jax.tree.map(lambda a: (a.shape, a.dtype), params)


def _python_model():
    return nn.serial(nn.flatten(), nn.dense(16), nn.relu(), nn.dense(10))


@pytest.fixture(scope="module")
def python_run(tmp_path_factory):
    """A `jnn.train.fit` run of a model built in Python, on digits / 16."""
    train, _, test = split(load_digits(), 0.1, 0.2, seed=0)
    train, test = ((d.x / np.float32(16), d.y) for d in (train, test))
    run_dir = tmp_path_factory.mktemp("python") / "run"
    result = jnn.train.fit(
        _python_model(),
        "sparse_softmax_cross_entropy",
        optax.sgd(0.1),
        train,
        test=test,
        epochs=1,
        batch_size=64,
        workdir=run_dir,
        log=None,
        progress=False,
    )
    return run_dir, result, test


def test_python_run_loads_with_its_model(python_run, trained):
    run_dir, result, (x, y) = python_run
    with pytest.raises(ValueError, match=r"got model=None\. Hint: pass load_run\("):
        jnn.load_run(run_dir)
    run = jnn.load_run(run_dir, model=_python_model())
    assert run.norm is None and run.step == int(result.state.step)
    ts = result.state
    want = _python_model().apply(ts.params, ts.state, jnp.asarray(x), train=False)[0]
    np.testing.assert_allclose(_predict(run, x), np.asarray(want), rtol=1e-6)
    assert run.evaluate(data=(x, y))["accuracy"] == result.test["accuracy"]
    with pytest.raises(ValueError, match=r"Hint: drop model=: a config run rebuilds"):
        jnn.load_run(trained("mlp"), model=_python_model())


def test_python_run_evaluate_reports_the_metrics_it_logged(tmp_path):
    moons = synthetic.two_moons(64, 0.1, 0)
    data = (moons.x, moons.y.astype(np.float32)[:, None])  # float 0/1 targets
    model = nn.dense(1)
    result = jnn.train.fit(
        model,
        "sigmoid_binary_cross_entropy",
        optax.sgd(0.1),
        data,
        test=data,
        epochs=1,
        batch_size=16,
        metrics=["binary_accuracy"],
        workdir=tmp_path,
        log=None,
        progress=False,
    )
    assert set(result.test) == {"binary_accuracy", "loss"}
    assert jnn.load_run(tmp_path, model=model).evaluate(data=data) == result.test


def test_python_run_errors(python_run):
    run_dir, _, (x, _) = python_run
    with pytest.raises(ValueError, match=r"a template matching checkpoint step"):
        jnn.load_run(run_dir, model=nn.serial(nn.flatten(), nn.dense(10)))
    run = jnn.load_run(run_dir, model=_python_model())
    with pytest.raises(ValueError, match=r"Hint: pass run\.evaluate\(data=\(x, y\)\)"):
        run.evaluate()
    with pytest.raises(
        ValueError, match=r"inputs of shape \(N, 8, 8, 1\) like training"
    ):
        run.predict(x.reshape(len(x), 64))


CORPUS = "The quick brown fox jumps over the lazy dog. Pack my box with liquor!\n"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A tiny char_lstm run on a small corpus file."""
    folder = tmp_path_factory.mktemp("text")
    (folder / "corpus.txt").write_text(CORPUS * 40, encoding="utf-8")
    overrides = [
        f'data.path="{folder / "corpus.txt"}"',
        "data.seq_len=16",
        "model.hidden=[16]",
        "model.embed_features=8",
        "optim.warmup_steps=0",
        "train.epochs=1",
    ]
    cfg = config_lib.load(CONFIGS / "char_lstm.toml", overrides)
    jnn.train.fit_config(cfg, folder / "run", log=None, progress=False)
    return folder / "run", cfg


def test_text_run_keeps_its_vocab_and_samples_without_the_corpus(text_run, monkeypatch):
    run_dir, cfg = text_run
    vocab = jnn.data.load(cfg.data).vocab
    assert sorted(vocab) == sorted(set(CORPUS))

    def refuse(path):
        raise AssertionError(f"the corpus {path!r} was read again")

    monkeypatch.setattr(jnn.data.text, "read_corpus", refuse)
    run = jnn.load_run(run_dir)
    assert run.vocab == vocab and run.norm is None
    model = load_language_model(run_dir)
    assert model.vocab == vocab
    _assert_trees_equal(model.params, run.params)
    out = sample_text(model, "The ", key=jax.random.key(0), length=40)
    assert len(out) == 40 and set(out) <= set(vocab)
    logits = _predict(run, np.zeros((2, 16), np.int32))
    assert logits.shape == (2, 16, len(vocab))


def test_load_language_model_refuses_a_classifier(trained):
    with pytest.raises(ValueError, match=r"`model\.kind` to be one of \['rnn_lm'\]"):
        load_language_model(trained("mlp"))


def test_init_from_starts_from_the_source_params_with_a_fresh_optimizer(trained):
    source = trained("mlp")
    cfg = _config("mlp", f'train.init_from="{source}"')
    task, _, _ = supervised_run.task(cfg)
    state = task.warm_start(task.state)  # what a fresh run starts from
    loaded = jnn.load_run(source)
    assert int(state.step) == 0
    _assert_trees_equal(state.params, loaded.params)
    _assert_trees_equal(state.state, loaded.state)
    fresh = setup.build(cfg).optimizer.init(loaded.params)
    _assert_trees_equal(state.opt_state, fresh)
    # not the source's optimizer state, saved beside its params
    template = {"opt_state": fresh}
    saved, _ = checkpoint.restore(loaded.checkpoint, template, partial=True)

    def counts(opt_state):
        return {int(c) for c in jax.tree.leaves(opt_state) if c.dtype == jnp.int32}

    assert counts(state.opt_state) == {0}
    assert counts(saved["opt_state"]) == {loaded.step}


def test_a_fine_tuned_run_resumes_without_its_source(trained, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(trained("mlp"), source)
    cfg = _config("mlp", f'train.init_from="{source}"')
    first = jnn.train.fit_config(cfg, tmp_path / "tuned", log=None, progress=False)
    shutil.rmtree(source)  # a resumed run reads its own checkpoint only
    again = jnn.train.fit_config(cfg, tmp_path / "tuned", log=None, progress=False)
    assert again.test == first.test


def test_init_from_an_incompatible_or_missing_run_fails(trained, tmp_path):
    source = trained("mlp")
    cfg = _config("mlp", "model.hidden=[8]", f'train.init_from="{source}"')
    paths = r"\['hidden_0'\]\['bias'\].*\['hidden_0'\]\['weight'\].*\['output'\]"
    task, _, _ = supervised_run.task(cfg)
    with pytest.raises(ValueError, match=rf"train\.init_from '.*{paths}"):
        task.warm_start(task.state)
    cfg = _config("mlp", f'train.init_from="{tmp_path / "nothing"}"')
    task, _, _ = supervised_run.task(cfg)
    with pytest.raises(FileNotFoundError, match=r"\(does not exist\)"):
        task.warm_start(task.state)


def _fake(folder: Path, **metadata) -> Path:
    return checkpoint.save(folder, 0, {"w": np.zeros(1, np.float32)}, metadata)


def test_load_run_missing_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"got '.*nothing' \(does not exist\)"):
        jnn.load_run(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match=r"checkpoints.*got none\. Hint"):
        jnn.load_run(tmp_path)


def test_load_run_refuses_corrupt_or_foreign_checkpoints(trained, tmp_path):
    ckpt = shutil.copytree(jnn.load_run(trained("mlp")).checkpoint, tmp_path / "c")
    with open(ckpt / checkpoint.ARRAYS, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match=r"the file is corrupt or was modified"):
        jnn.load_run(ckpt)
    (ckpt / checkpoint.MANIFEST).write_text("{")
    with pytest.raises(ValueError, match=r"valid JSON in"):
        jnn.load_run(ckpt)
    with pytest.raises(ValueError, match=r"input metadata in .* got none"):
        jnn.load_run(_fake(tmp_path / "old", config={}))
    with pytest.raises(ValueError, match=r"`checkpoint task` to be one of"):
        jnn.load_run(_fake(tmp_path / "rl", task="rl"))
    with pytest.raises(ValueError, match=r"drop model=: a GAN run"):
        jnn.load_run(_fake(tmp_path / "gan", task="gan"), model=_python_model())


def test_run_evaluate_errors(trained):
    run = jnn.load_run(trained("cnn"))
    with pytest.raises(ValueError, match=r"`split` to be one of .* got 'valid'"):
        run.evaluate("valid")
    with pytest.raises(ValueError, match=r"`split` to be one of"):
        evaluate(run.path, "valid")
    x, y = _raw_test(run.config)
    with pytest.raises(ValueError, match=r"config runs evaluate their own splits"):
        run.evaluate(data=(x, y))
    changed = run._replace(norm=NormStats(run.norm.shift, run.norm.scale * 2))
    with pytest.raises(ValueError, match=r"data files changed since the run"):
        changed.evaluate()
    with pytest.raises(ValueError, match=r"no `split` or `data` for a GAN run"):
        run._replace(task="gan").evaluate("val")
