"""Every setting is read or refused: one row per task, data source, model kind
(and optimizer, schedule, GAN architecture and loss), each setting a field
that some other choice reads but this one does not."""

import re
from pathlib import Path

import pytest

from jnn import config
from jnn._checks import JnnValueError
from jnn.config import layouts
from jnn.data import config as data_config
from jnn.gan import config as gan_config
from jnn.models import config as models_config

GAN = "[train]\ntask = 'gan'\n"

# name -> (TOML of the choice, a setting it does not read, a TOML value,
#          who reads it instead, as the hint says)
UNREAD = {
    "task supervised": ("", "train.steps", "5", "train.task 'gan' only"),
    "task gan": (GAN, "train.epochs", "5", "train.task 'supervised' only"),
    "data digits": (
        "[data]\nname = 'digits'",
        "data.path",
        "'a.npz'",
        "data sources text, arrays",
    ),
    "data mnist": (
        "[data]\nname = 'mnist'",
        "data.test_fraction",
        "0.1",
        "data sources digits, moons",
    ),
    "data fashion_mnist": (
        "[data]\nname = 'fashion_mnist'",
        "data.noise",
        "0.1",
        "data sources moons, spirals, linear, sine",
    ),
    "data xor": (
        "[data]\nname = 'xor'",
        "data.val_fraction",
        "0.1",
        "data sources digits, mnist",
    ),
    "data moons": (
        "[data]\nname = 'moons'",
        "data.dir",
        "'x'",
        "data sources mnist, fashion_mnist",
    ),
    "data spirals": (
        "[data]\nname = 'spirals'",
        "data.augment_shift",
        "1",
        "data sources digits, mnist",
    ),
    "data linear": (
        "[data]\nname = 'linear'",
        "data.seq_len",
        "3",
        "data sources sine, text",
    ),
    "data sine": (
        "[data]\nname = 'sine'",
        "data.path",
        "'a'",
        "data sources text, arrays",
    ),
    "data text": (
        "[data]\nname = 'text'\n[model]\nkind = 'rnn_lm'",
        "data.normalize",
        "'none'",
        "data sources digits",
    ),
    "data arrays": (
        "[data]\nname = 'arrays'",
        "data.horizon",
        "2",
        "data.name 'sine' only",
    ),
    "gan data ring": (
        GAN + "[data]\nname = 'ring'",
        "data.dir",
        "'x'",
        "data sources mnist, fashion_mnist",
    ),
    "gan data digits": (
        GAN + "[data]\nname = 'digits'",
        "data.seed",
        "1",
        "data.name 'ring' only",
    ),
    "gan data mnist": (
        GAN + "[data]\nname = 'mnist'",
        "data.radius",
        "1.0",
        "data.name 'ring' only",
    ),
    "gan data fashion_mnist": (
        GAN + "[data]\nname = 'fashion_mnist'",
        "data.val_fraction",
        "0.1",
        "train.task 'supervised' only",
    ),
    "model mlp": (
        "[model]\nkind = 'mlp'",
        "model.channels",
        "[4]",
        "model kinds cnn, resnet",
    ),
    "model cnn": (
        "[model]\nkind = 'cnn'",
        "model.b_init",
        "'zeros'",
        "model.kind 'mlp' only",
    ),
    "model resnet": (
        "[model]\nkind = 'resnet'",
        "model.hidden",
        "[4]",
        "model kinds mlp, cnn, rnn, rnn_lm",
    ),
    "model rnn": (
        "[model]\nkind = 'rnn'",
        "model.embed_features",
        "4",
        "model.kind 'rnn_lm' only",
    ),
    "model rnn_lm": (
        "[data]\nname = 'text'\n[model]\nkind = 'rnn_lm'",
        "model.bidirectional",
        "true",
        "model.kind 'rnn' only",
    ),
    "model transformer_lm": (
        "[data]\nname = 'text'\n[model]\nkind = 'transformer_lm'",
        "model.pool",
        "'mean'",
        "model.kind 'vit' only",
    ),
    "model vit": (
        "[model]\nkind = 'vit'",
        "model.max_len",
        "16",
        "model.kind 'transformer_lm' only",
    ),
    "model serial": (
        "[model]\nkind = 'serial'\nlayers = [{type = 'dense', features = 10}]",
        "model.hidden",
        "[4]",
        "model kinds mlp, cnn",
    ),
    "optim adam": (
        "[optim]\nname = 'adam'",
        "optim.momentum",
        "0.9",
        "optim.name sgd, rmsprop",
    ),
    "optim sgd": (
        "[optim]\nname = 'sgd'",
        "optim.eps",
        "1e-7",
        "optim.name adam, adamw, rmsprop, adagrad",
    ),
    "schedule cosine": (
        "[optim]\nschedule = 'cosine'",
        "optim.decay_steps",
        "10",
        "optim.schedule step, exponential",
    ),
    "gan optim": (
        GAN,
        "optim.generator.decay",
        "0.5",
        "optim.generator.name 'rmsprop' only",
    ),
    "gan mlp": (
        GAN + "[gan]\narchitecture = 'mlp'",
        "gan.g_channels",
        "[4]",
        "gan.architecture 'dcgan' only",
    ),
    "gan dcgan": (
        GAN + "[gan]\narchitecture = 'dcgan'",
        "gan.d_hidden",
        "[4]",
        "gan.architecture 'mlp' only",
    ),
    "gan wasserstein": (
        GAN + "[gan]\nloss = 'wasserstein'",
        "gan.label_smoothing",
        "0.1",
        "gan.loss non_saturating, minimax",
    ),
}


def test_the_table_covers_every_task_source_and_kind():
    names = {name.rsplit(" ", 1)[-1] for name in UNREAD}
    assert set(layouts.TASKS) <= {n.split()[1] for n in UNREAD if n.startswith("task")}
    assert set(data_config.SOURCES) <= {
        n.split()[1] for n in UNREAD if n.startswith("data ")
    }
    assert set(gan_config.SOURCES) <= {
        n.split()[2] for n in UNREAD if n.startswith("gan data ")
    }
    assert set(models_config.KINDS) <= names


def _with(text: str, dotted: str, value: str) -> str:
    """`text` with `dotted = value` added to its table."""
    table, key = dotted.rsplit(".", 1)
    header = f"[{table}]"
    if header not in text:
        return f"{text}\n{header}\n{key} = {value}\n"
    return text.replace(header, f"{header}\n{key} = {value}", 1)


@pytest.mark.parametrize("case", UNREAD, ids=str)
def test_an_unread_setting_in_the_file_is_refused(tmp_path, case):
    text, dotted, value, readers = UNREAD[case]
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    config.load(path)  # the choice alone is fine
    path.write_text(_with(text, dotted, value), encoding="utf-8")
    with pytest.raises(JnnValueError, match=re.escape(f"got `{dotted}`.")) as info:
        config.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: expected a key of [")
    assert f"Hint: `{dotted}` is read by {readers}" in message


@pytest.mark.parametrize("case", UNREAD, ids=str)
def test_an_unread_setting_set_by_an_override_is_refused(tmp_path, case):
    text, dotted, value, readers = UNREAD[case]
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(JnnValueError, match=re.escape(f"got `{dotted}`.")) as info:
        config.load(path, [f"{dotted}={value}"])
    assert str(info.value).startswith("--set: expected a key of [")
    assert f"is read by {readers}" in str(info.value)


SECTIONS = [
    (
        "",
        "gan",
        "[gan]\nlatent_dim = 3",
        "section [gan] is read by train.task 'gan' only",
    ),
    (
        GAN,
        "model",
        "[model]\nhidden = [3]",
        "section [model] is read by train.task 'supervised' only",
    ),
    (
        GAN,
        "early_stopping",
        "[early_stopping]\nenabled = true",
        "section [early_stopping] is read by",
    ),
    (
        GAN,
        "loss",
        "[loss]\nl2 = 0.1",
        "section [loss] is read by train.task 'supervised' only",
    ),
]


@pytest.mark.parametrize("text, name, section, hint", SECTIONS)
def test_a_section_of_another_task_is_refused(tmp_path, text, name, section, hint):
    path = tmp_path / "x.toml"
    path.write_text(f"{text}\n{section}\n", encoding="utf-8")
    with pytest.raises(JnnValueError, match=re.escape(f"got [{name}]. Hint: {hint}")):
        config.load(path)


@pytest.mark.parametrize(
    "dotted, value, hint",
    [
        (
            "train.epochs",
            "3",
            "`train.epochs` is read by train.task 'supervised' only; use `train.steps` instead",
        ),
        ("gan.steps", "3", "use `train.steps` instead"),
        ("gan.ring_radius", "3.0", "use `data.radius` instead"),
        ("gan.checkpoint_every", "3", "use `train.checkpoint_every_steps` instead"),
        ("gan.g_lr", "1e-3", "use `optim.generator.lr` instead"),
        (
            "gan.lr_schedule",
            "'cosine'",
            "use `optim.generator.schedule` and `optim.discriminator.schedule` instead",
        ),
        ("optim.lr", "1e-3", "`optim.lr` is read by train.task 'supervised' only"),
    ],
)
def test_a_gan_setting_that_moved_names_its_new_place(dotted, value, hint):
    with pytest.raises(
        JnnValueError, match=re.escape(f"got `{dotted}`. Hint: {hint}.")
    ):
        config.replace(config.defaults("gan"), [f"{dotted}={value}"])


def test_a_sub_table_of_another_task_is_refused():
    with pytest.raises(
        JnnValueError,
        match=re.escape(
            "got [optim.generator]. Hint: section [optim.generator] is read by "
            "train.task 'gan' only."
        ),
    ):
        config.from_dict({"optim": {"generator": {"lr": 0.1}}})


def _config(name: str) -> Path:
    return Path(__file__).resolve().parents[2] / "configs" / name


@pytest.mark.parametrize(
    "name, overrides, check",
    [
        ("mlp_digits.toml", ["model.kind=cnn"], lambda c: c.model.hidden == (256, 128)),
        ("mlp_digits.toml", ["data.name=moons"], lambda c: c.data.seed == 0),
        ("mlp_digits.toml", ["train.task=gan"], lambda c: c.data.name == "digits"),
        ("moons_sgd.toml", ["optim.name=adam"], lambda c: c.optim.lr == 0.1),
        ("gan_ring.toml", ["optim.generator.name=sgd"], lambda c: c.gan is not None),
        ("gan_mnist.toml", ["gan.architecture=mlp"], lambda c: c.gan.latent_dim == 100),
    ],
)
def test_a_choice_switched_by_set_drops_what_only_the_old_choice_read(
    name, overrides, check
):
    cfg = config.load(_config(name), overrides)
    assert check(cfg)
    assert config.from_dict(config.to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "text, overrides, refused",
    [
        # A typo is read by no choice: refused even after a switch.
        ("[model]\nkind = 'mlp'\nhiden = [3]", ["model.kind=cnn"], "model.hiden"),
        # Setting the same choice again switches nothing.
        ("[data]\nname = 'digits'\npath = 'x'", ["data.name=digits"], "data.path"),
        # What an override itself sets must be read.
        ("", ["model.kind=cnn", "model.b_init=zeros"], "model.b_init"),
        ("", ["optim.name=sgd", "optim.b1=0.5"], "optim.b1"),
    ],
)
def test_switching_by_set_still_refuses_typos_and_explicit_settings(
    tmp_path, text, overrides, refused
):
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(JnnValueError, match=re.escape(f"got `{refused}`.")):
        config.load(path, overrides)
