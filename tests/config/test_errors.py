"""Config errors: every message names the file (or --set) and the dotted key."""

import pathlib
import re

import pytest

from jnn import config
from jnn._checks import JnnTypeError, JnnValueError
from jnn.config import loader
from jnn.data.config import DigitsConfig
from jnn.gan.config import GanConfig
from jnn.models.config import MlpConfig
from jnn.train.config import TrainConfig
from jnn.train.optim import OptimConfig

SUPERVISED = "[data, early_stopping, loss, mesh, model, optim, train]"
# The keys [train] reads by default (tensorboard_every_steps needs tensorboard).
TRAIN_KEYS = ", ".join(
    f.name
    for f in loader.dataclasses.fields(TrainConfig)
    if f.name != "tensorboard_every_steps"
)
V, T = JnnValueError, JnnTypeError
SERIAL = "[model]\nkind = 'serial'\nlayers = "
NO_VAL = "[early_stopping]\nenabled = true\n[data]\nval_fraction = 0.0"
GAN = "[train]\ntask = 'gan'\n"


def _write(tmp_path, text: str, name: str = "x.toml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# (TOML text, error type, a part of the message after "<path>: ").
MALFORMED = [
    (
        "[optimm]\nlr = 0.1",
        V,
        f"expected a section for train.task 'supervised' in {SUPERVISED}, got [optimm].",
    ),
    ("[optimm]\nlr = 0.1", V, "got [optimm]. Hint: did you mean 'optim'?"),
    ("lr = 0.1", V, "got key `lr`. Hint: `lr` belongs in [optim]: use optim.lr."),
    ("optim = 3", T, "expected [optim] to be a table, got int 3."),
    ("train = 3", T, "expected [train] to be a table, got int 3."),
    ("[optim]\nlrr = 0.1", V, "got `optim.lrr`. Hint: did you mean 'optim.lr'?"),
    (
        "[train]\nlr = 0.1",
        V,
        f"expected a key of [train] for train.task 'supervised' in [{TRAIN_KEYS}]",
    ),
    ("[train]\nlr = 0.1", V, "got `train.lr`. Hint: `lr` belongs in [optim]"),
    ("[data]\nnome = 'x'", V, "did you mean 'data.name'?"),
    ("[optim]\nlr = 'fast'", T, "expected `optim.lr` to be a float, got str 'fast'."),
    ("[optim]\nlr = true", T, "`optim.lr` to be a float, got bool True."),
    ("[optim]\nlr = inf", V, "expected `optim.lr` to be finite, got inf."),
    ("[train]\nepochs = 1.0", T, "`train.epochs` to be an int, got float 1.0."),
    ("[train]\nepochs = true", T, "`train.epochs` to be an int, got bool True."),
    ("[train]\ntask = 3", T, "`train.task` to be a str, got int 3."),
    (
        "[optim]\nname='sgd'\nnesterov = 1",
        T,
        "`optim.nesterov` to be a bool, got int 1.",
    ),
    ("[train]\ninit_from = 3", T, "`train.init_from` to be a str, got int 3."),
    ("[model]\nhidden = 64", T, "`model.hidden` to be an array of ints, got int 64."),
    ("[model]\nhidden = [64, '32']", T, "`model.hidden[1]` to be an int, got str"),
    ("[model]\nhidden = [64, 0]", V, "`model.hidden[1]` > 0, got 0."),
    ("[optim]\nlr = 0", V, "expected `optim.lr` > 0, got 0.0."),
    ("[optim]\neps = -1e-8", V, "`optim.eps` > 0, got -1e-08."),
    ("[optim]\nname='sgd'\nmomentum = 1.0", V, "`optim.momentum` in [0, 1), got 1.0."),
    (
        "[optim]\nschedule='step'\ndecay_rate = 0.0",
        V,
        "`optim.decay_rate` in (0, 1], got 0.0.",
    ),
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
    ("[model]\nkind='cnn'\nchannels = [32, 0]", V, "`model.channels[1]` > 0"),
    (
        "[model]\nkind='rnn'\ncell = 'lstmm'",
        V,
        "`model.cell` to be one of ['gru', 'lstm', 'simple']",
    ),
    ("[data]\naugment_shift = -1", V, "`data.augment_shift` >= 0"),
    (
        "[model]\nkind = 'cnnn'",
        V,
        "`model.kind` to be one of ['cnn', 'mlp', 'resnet', 'rnn', 'rnn_lm', 'serial', "
        "'transformer_lm', 'vit']",
    ),
    ("[model]\nactivation = 'relux'", V, "did you mean 'relu'?"),
    ("[model]\nw_init = 'he_norml'", V, "did you mean 'he_normal'?"),
    ("[model]\nb_init = 'zero'", V, "`model.b_init` to be one of"),
    ("[loss]\nname = 'mse_loss'", V, "`loss.name` to be one of"),
    ("[optim]\nname = 'adamm'", V, "did you mean 'adam'?"),
    ("[optim]\nschedule = 'linear'", V, "`optim.schedule` to be one of"),
    ("[train]\nragged = 'keep'", V, "`train.ragged` to be one of ['drop', 'pad']"),
    ("[train]\non_nonfinite = 'ignore'", V, "`train.on_nonfinite` to be one of"),
    ("[early_stopping]\nmode = 'minimum'", V, "`early_stopping.mode` to be one of"),
    (
        "[optim]\nname='sgd'\nnesterov = true",
        V,
        "`optim.momentum` > 0 when `optim.nesterov`",
    ),
    (
        "[model]\nkind = 'serial'",
        V,
        "expected `model.layers` to be non-empty, got []. Hint: e.g. layers = [",
    ),
    (SERIAL + "'dense'", T, "`model.layers` to be an array of tables"),
    (SERIAL + "[1]", T, "expected `model.layers[0]` to be a table, got int 1."),
    (SERIAL + "[{features = 1}]", V, "`model.layers[0]` to have a `type` key"),
    (SERIAL + "[{type = 1}]", T, "`model.layers[0].type` to be a str, got int 1."),
    (
        "[early_stopping]\nmonitor = 'loss'",
        V,
        "`early_stopping.monitor` as train_* or val_*, got 'loss'. Hint: e.g. val_loss",
    ),
    (NO_VAL, V, "expected `data.val_fraction` > 0 to monitor 'val_loss', got 0.0."),
    (
        "[data]\nname = 'text'",
        V,
        "`model.kind` one of ['rnn_lm', 'transformer_lm'] with `data.name` = 'text', "
        "got kind 'mlp' with data 'text'",
    ),
    ("[model]\nkind = 'rnn_lm'", V, "got kind 'rnn_lm' with data 'digits'"),
    (
        "[data]\nname = 'ring'",
        V,
        "got 'ring'. Hint: `data.name` = 'ring' is read by train.task 'gan' only.",
    ),
    (
        "[train]\ntask = 'gans'",
        V,
        "`train.task` to be one of ['gan', 'supervised'], got 'gans'. Hint: did you mean 'gan'?",
    ),
    (
        GAN + "[data]\nname = 'moons'",
        V,
        "`data.name` = 'moons' is read by train.task 'supervised' only.",
    ),
    (GAN + "batch_size = 0", V, "`train.batch_size` > 0, got 0."),
    (GAN + "[gan]\nloss = 'wgan'", V, "`gan.loss` to be one of"),
    (
        GAN + "[gan]\nlabel_smoothing = 0.5",
        V,
        "`gan.label_smoothing` in [0, 0.5), got 0.5.",
    ),
    (GAN + "[gan]\nd_steps = 0", V, "`gan.d_steps` > 0, got 0."),
    (
        GAN + "[gan]\narchitecture = 'dcgan'\n[data]\nname = 'ring'",
        V,
        "expected image data for `gan.architecture` 'dcgan', got data 'ring'.",
    ),
    (
        GAN + "[optim]\ngenerator = 3",
        T,
        "expected [optim.generator] to be a table, got int 3.",
    ),
    (
        GAN + "[optim.generator]\nname = 'sgd'\nnesterov = true",
        V,
        "expected `optim.generator.momentum` > 0 when `optim.generator.nesterov` = true",
    ),
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
    ("optim.lr.x=1", T, "expected [optim.lr] to be a table, got float 0.001."),
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


def test_replace_refuses_what_an_override_sets_but_nobody_reads():
    with pytest.raises(JnnValueError, match=re.escape("got `model.hidden`")):
        config.replace(config.Config(), ["model.kind=serial", "model.hidden=[3]"])


def test_xor_may_monitor_val_without_a_val_fraction():
    # xor's 4 points are train, val and test at once: it has no val_fraction.
    cfg = config.from_dict(
        {"data": {"name": "xor"}, "early_stopping": {"enabled": True}}
    )
    assert cfg.early_stopping.enabled and not hasattr(cfg.data, "val_fraction")


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
    with pytest.raises(JnnValueError, match=re.escape("`train.task` to be one of")):
        config.defaults("gans")


# A config built in Python is checked when it is written (and so when a run
# saves it): what its task and choices do not read may not differ.
TO_DICT = [
    (
        config.Config(gan=GanConfig()),
        V,
        "to_dict: expected `gan` = None for train.task 'supervised', got GanConfig."
        " Hint: section [gan] is read by train.task 'gan' only.",
    ),
    (
        config.Config(optim=OptimConfig(name="sgd", b1=0.5)),
        V,
        "to_dict: expected a key of [optim] for optim.name 'sgd' in [name, lr,"
        " momentum, nesterov, clip_norm, schedule, warmup_steps], got `optim.b1`."
        " Hint: `optim.b1` is read by optim.name adam, adamw.",
    ),
    (
        config.Config(data=MlpConfig()),
        V,
        "to_dict: expected `data.name` to be one of",
    ),
    (
        config.Config(train=TrainConfig(task="gan")),
        T,
        "to_dict: expected [data] for data.name 'digits' to be a GanDigitsConfig,"
        " got DigitsConfig.",
    ),
    (
        config.Config(data=DigitsConfig(name="mnist")),
        T,
        "to_dict: expected [data] for data.name 'mnist' to be a MnistConfig,"
        " got DigitsConfig.",
    ),
]


@pytest.mark.parametrize("cfg, error, expected", TO_DICT)
def test_to_dict_refuses_what_a_python_config_sets_but_does_not_read(
    cfg, error, expected
):
    with pytest.raises(error, match=re.escape(expected)):
        config.to_dict(cfg)
