"""Config loading: TOML -> frozen dataclasses, overrides, defaults, round trips."""

import dataclasses
import json
import pathlib
import re
import tomllib

import pytest

from jnn import config
from jnn._checks import JnnTypeError
from jnn.data.config import DigitsConfig, SyntheticConfig, TextConfig
from jnn.gan.config import GanConfig, GanTrainConfig, RingConfig
from jnn.models.config import MlpConfig, RnnLmConfig, SerialConfig
from jnn.train.config import TrainConfig
from jnn.train.optim import OptimConfig

CONFIGS = sorted((pathlib.Path(__file__).parents[2] / "configs").glob("*.toml"))


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
    assert config.from_dict(json.loads(json.dumps(config.to_dict(cfg)))) == cfg


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_field_has_a_trailing_comment(path):
    # nanoGPT habit: each value line says why it has that value.
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "[")):
            continue
        assert " # " in line, f"{path.name}:{number} has no comment: {line!r}"


# Short textbook configs list only what they change; the others list every
# field their task, data source and model kind read, and nothing else.
PARTIAL = {"xor_mlp", "moons_sgd", "linear_regression", "mnist_mlp"}


@pytest.mark.parametrize(
    "path", [p for p in CONFIGS if p.stem not in PARTIAL], ids=lambda p: p.name
)
def test_full_configs_list_every_field_their_choices_read(path):
    listed = tomllib.loads(path.read_text())
    assert listed == config.to_dict(config.load(path))


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
    assert es.restore_best is True and cfg.gan is None


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
    ring = load["gan_ring"]
    assert (ring.data.radius, ring.train.steps, ring.model) == (2.0, 6000, None)
    assert ring.optim.generator.schedule == "cosine"


# -- loading, defaults and overrides -----------------------------------------


def test_missing_sections_and_keys_take_the_dataclass_defaults(tmp_path):
    cfg = config.load(_write(tmp_path, "[optim]\nlr = 0.5\n"))
    assert cfg == dataclasses.replace(config.Config(), optim=OptimConfig(lr=0.5))
    assert config.from_dict({}) == config.Config() == config.defaults()


def test_gan_defaults_have_only_gan_sections():
    cfg = config.defaults("gan")
    assert (cfg.model, cfg.loss, cfg.early_stopping) == (None, None, None)
    assert isinstance(cfg.train, GanTrainConfig) and cfg.gan == GanConfig()
    adam = OptimConfig(name="adam", lr=2e-4, b1=0.5, b2=0.999)
    assert cfg.optim.generator == adam == cfg.optim.discriminator
    assert list(config.to_dict(cfg)) == ["data", "optim", "train", "gan", "mesh"]


def test_a_sub_table_keeps_its_field_default_for_missing_keys(tmp_path):
    text = "[train]\ntask = 'gan'\n[optim.generator]\nlr = 1e-3\n"
    cfg = config.load(_write(tmp_path, text))
    assert (cfg.optim.generator.lr, cfg.optim.generator.b1) == (1e-3, 0.5)
    cfg = config.load(_write(tmp_path, "[train]\ntask = 'gan'\n"), ["data.name=ring"])
    assert cfg.data == RingConfig()


def test_config_built_in_python_is_the_loaded_one():
    cfg = config.Config(data=DigitsConfig(), model=MlpConfig(), train=TrainConfig())
    assert cfg == config.Config() and cfg.optim == OptimConfig()
    text = config.Config(data=TextConfig(), model=RnnLmConfig())
    assert config.from_dict(config.to_dict(text)) == text


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
        ("train.init_from=runs/a", "train", "init_from", "runs/a"),
        ('train.init_from="a b"', "train", "init_from", "a b"),
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


def test_replace_drops_settings_that_a_new_choice_does_not_read():
    moons = config.replace(config.Config(), ["data.name=moons", "data.noise=0.3"])
    assert moons.data == SyntheticConfig(name="moons", noise=0.3)
    gan = config.replace(config.Config(), ["train.task=gan", "train.steps=5"])
    assert gan.model is None and gan.train == GanTrainConfig(steps=5)
    sgd = config.replace(config.Config(), ["optim.name=sgd"])
    assert "b1" not in config.to_dict(sgd)["optim"]


def test_replace_leaves_the_original_unchanged():
    base = config.Config()
    new = config.replace(base, ["optim.lr=0.1"])
    assert base.optim.lr == 1e-3 and new.optim.lr == 0.1
    assert dataclasses.replace(new, optim=base.optim) == base


# -- serialisation -------------------------------------------------------------


def _tricky() -> config.Config:
    return config.from_dict(
        {
            "data": {"name": "text", "path": 'a "q" \\ ü\n\t\x01\x7f'},
            "model": {"kind": "rnn_lm", "hidden": []},
            "optim": {"lr": 1e-300, "eps": 1.5e16, "clip_norm": 5},
            "train": {"init_from": "runs/ü"},
        }
    )


def test_save_then_load_round_trips_exactly(tmp_path):
    cfg = _tricky()
    path = config.save(cfg, tmp_path / "run" / "config.toml")
    assert path.exists() and config.load(path) == cfg
    assert cfg.optim.lr == 1e-300 and cfg.model.hidden == ()


def test_to_dict_is_plain_data_and_inverts_from_dict():
    cfg = _tricky()
    raw = config.to_dict(cfg)
    assert raw["model"] == {
        "kind": "rnn_lm",
        "cell": "lstm",
        "hidden": [],
        "embed_features": 32,
    }
    assert "normalize" not in raw["data"]  # text windows are token ids
    assert json.loads(json.dumps(raw)) == raw  # JSON-serialisable, no tuples
    assert config.from_dict(raw) == cfg
    assert tomllib.loads(config.to_toml(cfg)) == raw


def test_to_toml_writes_sections_sub_tables_floats_and_inline_tables():
    cfg = config.replace(
        config.Config(),
        [
            "optim.lr=1e-5",
            "model.kind=serial",
            'model.layers=[{type="dense", features=1, kernel_size=[3, 3]}]',
        ],
    )
    lines = config.to_toml(cfg).splitlines()
    assert "[optim]" in lines and "[early_stopping]" in lines and "[gan]" not in lines
    assert "lr = 1e-05" in lines and "nesterov = false" not in lines  # adam's
    assert 'layers = [{type = "dense", features = 1, kernel_size = [3, 3]}]' in lines
    gan = config.to_toml(config.defaults("gan")).splitlines()
    assert "[optim.generator]" in gan and "[optim]" not in gan


def test_to_toml_rejects_values_without_a_toml_form(tmp_path):
    cfg = config.Config(model=SerialConfig(layers=({"type": "dense", "x": None},)))
    with pytest.raises(JnnTypeError, match=re.escape("got NoneType None")):
        config.to_toml(cfg)
    with pytest.raises(JnnTypeError, match="to_toml"):
        config.save(cfg, tmp_path / "unused.toml")
    assert not (tmp_path / "unused.toml").exists()
