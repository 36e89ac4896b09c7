"""Choice lists and rules are written once, by their owners: the config offers
exactly the owners' registries, and shares their rules and messages."""

import dataclasses

import pytest

from jnn import activations, config, data, initializers, losses
from jnn._checks import JnnValueError
from jnn.config import layouts
from jnn.config.schema import Layout, Tagged, is_table, join
from jnn.data.normalization import METHODS
from jnn.gan import config as gan_config
from jnn.gan import losses as gan_losses
from jnn.gan import models as gan_models
from jnn.models import build, sequence, transformers
from jnn.runs import tasks as runs_tasks
from jnn.train import batches, early_stopping, numerics, optim, precision


def _choices(schema, path: str = "", task: str = "") -> dict:
    """{(task, dotted key): choices} of every tag and `choices` setting."""
    found = {}
    if isinstance(schema, Tagged):
        key = join(path, schema.key)
        found[(task, key)] = tuple(schema.variants)
        for tag, variant in schema.variants.items():
            found |= _choices(variant, path, tag if key == "train.task" else task)
    elif isinstance(schema, Layout):
        for name, section in schema.sections.items():
            found |= _choices(section, join(path, name), task)
    else:
        for field in dataclasses.fields(schema):
            dotted = join(path, field.name)
            if is_table(field.type):
                found |= _choices(field.type, dotted, task)
            elif "choices" in field.metadata:
                found[(task, dotted)] = field.metadata["choices"]
    return found


OPTIM = {"name": optim.NAMES, "schedule": optim.SCHEDULES}
OWNERS = {
    ("", "train.task"): runs_tasks.NAMES,
    ("supervised", "data.name"): data.NAMES,
    ("supervised", "data.normalize"): METHODS,
    ("supervised", "model.kind"): tuple(build.BUILDERS),
    ("supervised", "model.activation"): activations.NAMES,
    ("supervised", "model.w_init"): initializers.NAMES,
    ("supervised", "model.b_init"): initializers.NAMES,
    ("supervised", "model.cell"): tuple(sequence.CELLS),
    ("supervised", "model.positions"): transformers.POSITIONS,
    ("supervised", "model.pool"): transformers.POOLS,
    ("supervised", "loss.name"): losses.NAMES,
    **{("supervised", f"optim.{k}"): v for k, v in OPTIM.items()},
    ("supervised", "train.ragged"): batches.RAGGED,
    ("supervised", "train.precision"): precision.PRECISIONS,
    ("supervised", "train.on_nonfinite"): numerics.MODES,
    ("supervised", "early_stopping.mode"): early_stopping.MODES,
    ("gan", "data.name"): tuple(gan_config.SOURCES),
    ("gan", "gan.architecture"): gan_models.ARCHITECTURES,
    ("gan", "gan.loss"): gan_losses.NAMES,
    ("gan", "gan.g_activation"): activations.NAMES,
    ("gan", "gan.d_activation"): activations.NAMES,
    ("gan", "train.on_nonfinite"): numerics.MODES,
    **{
        ("gan", f"optim.{m}.{k}"): v
        for m in ("generator", "discriminator")
        for k, v in OPTIM.items()
    },
}


def test_every_choice_list_is_its_owners_registry():
    found = _choices(layouts.SCHEMA)
    assert set(found) == set(OWNERS)  # a new choice list names its owner here
    for key, choices in found.items():
        assert tuple(choices) == tuple(OWNERS[key]), key


def test_gan_data_sources_are_those_the_gan_loader_reads():
    from jnn.gan import data as gan_data

    assert gan_data.load(gan_config.GanDigitsConfig()).x.shape[1:] == (8, 8, 1)
    assert gan_data.load(gan_config.RingConfig(num_samples=4)).x.shape == (4, 2)
    with pytest.raises(TypeError, match="to be a GanDigitsConfig, got DigitsConfig"):
        gan_data.load(config.Config().data)


def test_nesterov_without_momentum_says_the_same_everywhere(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("[optim]\nname = 'sgd'\nnesterov = true\n")
    with pytest.raises(JnnValueError) as loaded:
        config.load(path)
    cfg = optim.OptimConfig(name="sgd", nesterov=True)
    with pytest.raises(JnnValueError) as built:
        optim.build(cfg, total_steps=10)
    assert loaded.value.message == built.value.message
    assert (loaded.value.where, built.value.where) == (str(path), "optim")
    assert "`optim.momentum` > 0 when `optim.nesterov` = true" in built.value.message


def test_gan_optimizers_are_built_from_their_configs():
    from jnn.gan import task

    cfg = config.replace(
        config.defaults("gan"),
        ["optim.generator.name=sgd", "optim.generator.lr=0.5", "train.steps=3"],
    )
    run = task.build(cfg, (2,))
    params = {"w": pytest.importorskip("jax.numpy").ones(2)}
    updates, _ = run.g_optimizer.update(params, run.g_optimizer.init(params))
    assert float(updates["w"][0]) == -0.5  # plain sgd at lr 0.5
