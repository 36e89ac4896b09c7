"""Config loading: TOML -> frozen dataclasses, overrides, validation, round trips."""

import dataclasses
import json
import pathlib
import re
import tomllib

import pytest

from jnn import config
from jnn._checks import JnnTypeError, JnnValueError

CONFIGS = sorted((pathlib.Path(__file__).parents[1] / "configs").glob("*.toml"))


def _write(tmp_path, text: str, name: str = "x.toml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the shipped configs ------------------------------------------------------


def test_the_five_configs_exist():
    names = {p.name for p in CONFIGS}
    assert {
        "mlp_digits.toml",
        "xor_mlp.toml",
        "moons_sgd.toml",
        "linear_regression.toml",
        "mnist_mlp.toml",
    } <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_loads_and_round_trips(path, tmp_path):
    cfg = config.load(path)
    assert isinstance(cfg, config.Config)
    assert config.load(config.save(cfg, tmp_path / "saved.toml")) == cfg


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_field_has_a_trailing_comment(path):
    # nanoGPT habit: each value line says why it has that value.
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "[")):
            continue
        assert " # " in line, f"{path.name}:{number} has no comment: {line!r}"


def test_default_config_matches_the_agreed_values():
    cfg = config.load(CONFIGS[0].parent / "mlp_digits.toml")
    data, model, optim, es = cfg.data, cfg.model, cfg.optim, cfg.early_stopping
    assert (data.name, data.normalize, data.seed) == ("digits", "standardize", 0)
    assert (data.val_fraction, data.test_fraction) == (0.1, 0.2)
    assert (model.kind, model.hidden, model.activation) == ("mlp", (256, 128), "gelu")
    assert (model.w_init, model.dropout) == ("he_normal", 0.2)
    assert (cfg.loss.name, cfg.loss.l2) == ("sparse_softmax_cross_entropy", 0.0)
    assert (optim.name, optim.lr, optim.schedule) == ("adamw", 1e-3, "cosine")
    assert (optim.warmup_steps, optim.weight_decay) == (0, 1e-2)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.ragged) == (60, 64, "pad")
    assert (es.enabled, es.monitor, es.patience) == (False, "val_loss", 15)
    assert es.restore_best is True


def test_example_configs_hold_their_defining_settings():
    load = {p.stem: config.load(p) for p in CONFIGS}
    xor, moons = load["xor_mlp"], load["moons_sgd"]
    assert (xor.data.name, xor.data.normalize) == ("xor", "none")
    assert xor.model.hidden == (8,)
    assert (xor.model.activation, xor.model.w_init) == ("tanh", "glorot_uniform")
    assert xor.train.batch_size == 0 and xor.train.epochs >= 300
    assert moons.data.name == "moons"
    assert (moons.optim.name, moons.optim.schedule) == ("sgd", "step")
    assert (moons.optim.momentum, moons.optim.nesterov) == (0.9, True)
    linear = load["linear_regression"]
    assert linear.model.kind == "serial" and linear.loss.name == "mse"
    assert linear.model.layers == ({"type": "dense", "features": 1},)
    assert (linear.train.batch_size, linear.optim.name) == (1, "sgd")
    mnist = load["mnist_mlp"]
    assert (mnist.data.dir, mnist.data.normalize) == ("data/mnist", "scale")


# -- loading, defaults and overrides -----------------------------------------


def test_missing_sections_and_keys_take_the_dataclass_defaults(tmp_path):
    cfg = config.load(_write(tmp_path, "[optim]\nlr = 0.5\n"))
    assert cfg == dataclasses.replace(config.Config(), optim=config.OptimConfig(lr=0.5))
    assert config.from_dict({}) == config.Config()


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.Config().optim.lr = 1.0


@pytest.mark.parametrize(
    "override, section, key, expected",
    [
        ("optim.lr=3e-4", "optim", "lr", 3e-4),
        ("optim.lr=1", "optim", "lr", 1.0),  # int -> float is the one coercion
        ("model.hidden=[64, 32]", "model", "hidden", (64, 32)),
        ("model.hidden=[]", "model", "hidden", ()),
        ("train.ragged=drop", "train", "ragged", "drop"),  # bare word -> str
        ("data.dir=data/mnist", "data", "dir", "data/mnist"),
        ('data.dir="a b"', "data", "dir", "a b"),
        (" train.epochs = 7 ", "train", "epochs", 7),
        ("early_stopping.enabled=true", "early_stopping", "enabled", True),
    ],
)
def test_override_values_are_parsed_as_toml(override, section, key, expected):
    cfg = config.replace(config.Config(), [override])
    value = getattr(getattr(cfg, section), key)
    assert value == expected and type(value) is type(expected)


def test_overrides_apply_in_order_and_are_validated_together(tmp_path):
    path = _write(tmp_path, "[optim]\nname = 'sgd'\nnesterov = true\nmomentum = 0.5\n")
    # nesterov needs momentum > 0: only the final merged values count.
    cfg = config.load(path, ["optim.momentum=0", "optim.momentum=0.9"])
    assert (cfg.optim.momentum, cfg.optim.nesterov) == (0.9, True)
    layers = config.replace(
        config.Config(),
        ['model.layers=[{type = "dense", features = 2}]', "model.kind=serial"],
    ).model.layers
    assert layers == ({"type": "dense", "features": 2},)


def test_replace_leaves_the_original_unchanged():
    base = config.Config()
    new = config.replace(base, ["optim.lr=0.1"])
    assert base.optim.lr == 1e-3 and new.optim.lr == 0.1
    assert dataclasses.replace(new, optim=base.optim) == base


# -- serialisation -------------------------------------------------------------


def _tricky() -> config.Config:
    return config.from_dict(
        {
            "data": {"dir": 'a "q" \\ ü\n\t\x01\x7f', "noise": 0.1 + 0.2},
            "model": {
                "kind": "serial",
                "hidden": [],
                "layers": [
                    {"type": "dense", "features": 3, "kernel_size": (3, 3)},
                    {"type": "dropout", "drop_rate": 0.5, "a key": True},
                ],
            },
            "optim": {"lr": 1e-300, "eps": 1.5e16, "clip_norm": 5},
        }
    )


def test_save_then_load_round_trips_exactly(tmp_path):
    cfg = _tricky()
    path = config.save(cfg, tmp_path / "run" / "config.toml")
    assert path.exists() and config.load(path) == cfg
    assert cfg.optim.lr == 1e-300 and cfg.data.noise == 0.1 + 0.2


def test_to_dict_is_plain_data_and_inverts_from_dict():
    cfg = _tricky()
    raw = config.to_dict(cfg)
    assert raw["model"]["hidden"] == []
    assert raw["model"]["layers"][0]["kernel_size"] == [3, 3]
    assert json.loads(json.dumps(raw)) == raw  # JSON-serialisable, no tuples
    assert config.from_dict(raw) == cfg
    assert tomllib.loads(config.to_toml(cfg)) == raw


def test_to_toml_writes_sections_floats_and_inline_tables():
    cfg = config.replace(
        config.Config(),
        [
            "optim.lr=1e-5",
            "model.kind=serial",
            'model.layers=[{type="dense", features=1}]',
        ],
    )
    lines = config.to_toml(cfg).splitlines()
    assert "[optim]" in lines and "[early_stopping]" in lines
    assert "lr = 1e-05" in lines and "nesterov = false" in lines
    assert 'layers = [{type = "dense", features = 1}]' in lines


def test_to_toml_rejects_values_without_a_toml_form(tmp_path):
    cfg = config.from_dict(
        {"model": {"kind": "serial", "layers": [{"type": "dense", "x": None}]}}
    )
    with pytest.raises(JnnTypeError, match=re.escape("got NoneType None")):
        config.to_toml(cfg)
    with pytest.raises(JnnTypeError, match="to_toml"):
        config.save(cfg, tmp_path / "unused.toml")
    assert not (tmp_path / "unused.toml").exists()


# -- errors --------------------------------------------------------------------

SECTIONS = "[data, early_stopping, gan, loss, model, optim, train]"
TRAIN_KEYS = f"[{', '.join(f.name for f in dataclasses.fields(config.TrainConfig))}]"
V, T = JnnValueError, JnnTypeError
SERIAL = "[model]\nkind = 'serial'\nlayers = "
NO_VAL = "[early_stopping]\nenabled = true\n[data]\nval_fraction = 0.0"

# (TOML text, error type, a part of the message after "<path>: ").
MALFORMED = [
    ("[optimm]\nlr = 0.1", V, f"expected a section in {SECTIONS}, got [optimm]."),
    ("[optimm]\nlr = 0.1", V, "got [optimm]. Hint: did you mean 'optim'?"),
    ("lr = 0.1", V, "got key `lr`. Hint: `lr` belongs in [optim]: use optim.lr."),
    ("optim = 3", T, "expected [optim] to be a table, got int 3."),
    ("[optim]\nlrr = 0.1", V, "got `optim.lrr`. Hint: did you mean 'optim.lr'?"),
    ("[train]\nlr = 0.1", V, f"expected a key of [train] in {TRAIN_KEYS}"),
    ("[train]\nlr = 0.1", V, "got `train.lr`. Hint: `lr` belongs in [optim]"),
    ("[data]\nnome = 'x'", V, "did you mean 'data.name'?"),
    ("[optim]\nlr = 'fast'", T, "expected `optim.lr` to be a float, got str 'fast'."),
    ("[optim]\nlr = true", T, "`optim.lr` to be a float, got bool True."),
    ("[optim]\nlr = inf", V, "expected `optim.lr` to be finite, got inf."),
    ("[train]\nepochs = 1.0", T, "`train.epochs` to be an int, got float 1.0."),
    ("[train]\nepochs = true", T, "`train.epochs` to be an int, got bool True."),
    ("[optim]\nnesterov = 1", T, "`optim.nesterov` to be a bool, got int 1."),
    ("[data]\ndir = 3", T, "`data.dir` to be a str, got int 3."),
    ("[model]\nhidden = 64", T, "`model.hidden` to be an array of ints, got int 64."),
    ("[model]\nhidden = [64, '32']", T, "`model.hidden[1]` to be an int, got str"),
    ("[model]\nhidden = [64, 0]", V, "`model.hidden[1]` > 0, got 0."),
    ("[optim]\nlr = 0", V, "expected `optim.lr` > 0, got 0.0."),
    ("[optim]\neps = -1e-8", V, "`optim.eps` > 0, got -1e-08."),
    ("[optim]\nmomentum = 1.0", V, "`optim.momentum` in [0, 1), got 1.0."),
    ("[optim]\ndecay_rate = 0.0", V, "`optim.decay_rate` in (0, 1], got 0.0."),
    ("[optim]\nwarmup_steps = -1", V, "`optim.warmup_steps` >= 0, got -1."),
    ("[train]\nepochs = 0", V, "`train.epochs` > 0, got 0."),
    ("[train]\nbatch_size = -1", V, "`train.batch_size` >= 0, got -1."),
    ("[data]\nseed = -1", V, "`data.seed` in [0, 2**32), got -1."),
    ("[data]\nval_fraction = 1.0", V, "`data.val_fraction` in [0, 1), got 1.0."),
    ("[data]\nval_fraction = 0.5\ntest_fraction = 0.5", V, "< 1, got 0.5 + 0.5."),
    ("[model]\ndropout = 1.0", V, "`model.dropout` in [0, 1), got 1.0."),
    ("[early_stopping]\npatience = -1", V, "`early_stopping.patience` >= 0"),
    ("[loss]\nl2 = -0.1", V, "`loss.l2` >= 0, got -0.1."),
    ("[data]\nname = 'mnits'", V, "got 'mnits'. Hint: did you mean 'mnist'?"),
    ("[data]\nnormalize = 'standardise'", V, "did you mean 'standardize'?"),
    ("[model]\nchannels = [32, 0]", V, "`model.channels[1]` > 0"),
    (
        "[model]\ncell = 'lstmm'",
        V,
        "`model.cell` to be one of ['gru', 'lstm', 'simple']",
    ),
    ("[data]\naugment_shift = -1", V, "`data.augment_shift` >= 0"),
    (
        "[model]\nkind = 'cnnn'",
        V,
        "`model.kind` to be one of ['cnn', 'mlp', 'resnet', 'rnn', 'rnn_lm', 'serial']",
    ),
    ("[model]\nactivation = 'relux'", V, "did you mean 'relu'?"),
    ("[model]\nw_init = 'he_norml'", V, "did you mean 'he_normal'?"),
    ("[model]\nb_init = 'zero'", V, "`model.b_init` to be one of"),
    ("[loss]\nname = 'mse_loss'", V, "`loss.name` to be one of"),
    ("[optim]\nname = 'adamm'", V, "did you mean 'adam'?"),
    ("[optim]\nschedule = 'linear'", V, "`optim.schedule` to be one of"),
    ("[train]\nragged = 'keep'", V, "`train.ragged` to be one of ['drop', 'pad']"),
    ("[early_stopping]\nmode = 'minimum'", V, "`early_stopping.mode` to be one of"),
    ("[optim]\nnesterov = true", V, "`optim.momentum` > 0 when `optim.nesterov`"),
    ("[model]\nkind = 'serial'", V, "a non-empty `model.layers` for kind 'serial'"),
    ("[model]\nlayers = [{type = 'dense'}]", V, "no `model.layers` for kind 'mlp'"),
    (SERIAL + "'dense'", T, "`model.layers` to be an array of tables"),
    (SERIAL + "[1]", T, "expected `model.layers[0]` to be a table, got int 1."),
    (SERIAL + "[{features = 1}]", V, "`model.layers[0]` to have a `type` key"),
    (SERIAL + "[{type = 1}]", T, "`model.layers[0].type` to be a str, got int 1."),
    ("[early_stopping]\nmonitor = 'loss'", V, "`early_stopping.monitor` as train_*"),
    (NO_VAL, V, "expected `data.val_fraction` > 0 to monitor 'val_loss', got 0.0."),
]


@pytest.mark.parametrize(
    "text, error, expected",
    MALFORMED,
    ids=[t.replace("\n", " ") for t, *_ in MALFORMED],
)
def test_malformed_config_files_raise_fix_it_errors(tmp_path, text, error, expected):
    path = _write(tmp_path, text)
    with pytest.raises(error, match=re.escape(expected)) as info:
        config.load(path)
    assert str(info.value).startswith(f"{path}: expected ")  # where = the file


OVERRIDES = [
    ("optim.lr", V, "expected an override `section.key=value`, got str 'optim.lr'."),
    ("=3", V, "expected a dotted key `section.key` before '=', got ''."),
    ("lr=3", V, "a dotted key `section.key` before '=', got 'lr'."),
    ("optim.=3", V, "a dotted key `section.key` before '=', got 'optim.'."),
    ("optimm.lr=3", V, "got [optimm]. Hint: did you mean 'optim'?"),
    ("optim.lrr=3", V, "Hint: did you mean 'optim.lr'?"),
    ("train.lr=3", V, "Hint: `lr` belongs in [optim]: use optim.lr."),
    ("optim.lr=fast", T, "expected `optim.lr` to be a float, got str 'fast'."),
    ("optim.lr=-1", V, "`optim.lr` > 0, got -1.0."),
    ("model.hidden=[64, true]", T, "`model.hidden[1]` to be an int"),
    ("optim.lr=1\nx = 2", V, "expected a single TOML value"),
]


@pytest.mark.parametrize("override, error, expected", OVERRIDES)
def test_malformed_overrides_name_the_set_source(override, error, expected):
    with pytest.raises(error, match=re.escape(expected)) as info:
        config.replace(config.Config(), [override])
    assert str(info.value).startswith("--set: expected ")


def test_override_errors_name_set_even_when_loading_a_file(tmp_path):
    path = _write(tmp_path, "[optim]\nname = 'sgd'\nmomentum = 0.9\nnesterov = true\n")
    with pytest.raises(JnnTypeError, match=re.escape("--set: expected `optim.lr`")):
        config.load(path, ["optim.lr=fast"])
    # A relation broken by an override is blamed on the override.
    with pytest.raises(
        JnnValueError, match=re.escape("--set: expected `optim.momentum` > 0")
    ):
        config.load(path, ["optim.momentum=0"])
    with pytest.raises(
        JnnValueError, match=re.escape("cli: expected `train.epochs` > 0")
    ):
        config.replace(config.Config(), ["train.epochs=0"], source="cli")


def test_xor_may_monitor_val_without_a_val_fraction():
    # xor's 4 points are train, val and test at once (jnn.data.load).
    cfg = config.from_dict(
        {
            "data": {"name": "xor", "val_fraction": 0.0},
            "early_stopping": {"enabled": True},
        }
    )
    assert cfg.early_stopping.enabled and cfg.data.val_fraction == 0.0


def test_overrides_must_be_a_sequence_of_strings():
    with pytest.raises(JnnTypeError, match=re.escape("Hint: use ['optim.lr=1']")):
        config.replace(config.Config(), "optim.lr=1")


def test_toml_syntax_errors_name_the_file_and_line(tmp_path):
    path = _write(tmp_path, "[optim]\nlr = = 1\n")
    with pytest.raises(
        JnnValueError, match=re.escape(f"{path}: expected valid TOML")
    ) as info:
        config.load(path)
    assert "line 2" in str(info.value)


def test_a_missing_file_suggests_a_neighbour(tmp_path):
    _write(tmp_path, "", name="mlp_digits.toml")
    missing = tmp_path / "mlp_digit.toml"
    with pytest.raises(
        JnnValueError, match=re.escape("no such file. Hint: did you mean")
    ) as info:
        config.load(missing)
    assert str(tmp_path / "mlp_digits.toml") in str(info.value)


def test_from_dict_validates_like_load():
    with pytest.raises(
        JnnTypeError, match=re.escape("run.json: expected the config to be a table")
    ):
        config.from_dict([("optim", {})], source="run.json")
    with pytest.raises(JnnTypeError, match=re.escape("expected [optim] to be a table")):
        config.from_dict({"optim": 3})
    with pytest.raises(
        JnnValueError, match=re.escape("<dict>: expected `optim.lr` > 0")
    ):
        config.from_dict({"optim": {"lr": 0.0}})
    with pytest.raises(
        JnnTypeError, match=re.escape("expected `model.hidden` to be an array")
    ):
        config.from_dict({"model": {"hidden": "64"}})
