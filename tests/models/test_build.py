"""Model builders: the MLP and config-described stacks, with config-path errors."""

import jax
import jax.numpy as jnp
import pytest

from jnn._checks import JnnTypeError, JnnValueError
from jnn.models import build, from_config, mlp
from jnn.models.config import KINDS, CnnConfig, MlpConfig, SerialConfig


def _shapes(params):
    return jax.tree.map(lambda a: a.shape, params)


def test_mlp_params_are_readable_and_flatten_images(key):
    model = mlp([16, 8], 10, drop_rate=0.1)
    params, state = model.init(key, jnp.zeros((2, 8, 8, 1)))
    assert _shapes(params)["hidden_0"] == {"weight": (64, 16), "bias": (16,)}
    assert _shapes(params)["output"] == {"weight": (8, 10), "bias": (10,)}
    assert "dropout_1" in params
    y, _ = model.apply(params, state, jnp.ones((3, 8, 8, 1)))
    assert y.shape == (3, 10)


def test_mlp_without_hidden_layers_is_linear(key):
    model = mlp([], 2)
    params, state = model.init(key, jnp.zeros((1, 3)))
    x = jnp.array([[1.0, 2.0, 3.0]])
    y, _ = model.apply(params, state, x)
    want = x @ params["output"]["weight"] + params["output"]["bias"][None]
    assert jnp.allclose(y, want)


def test_from_config_mlp_matches_the_builder(key):
    cfg = MlpConfig(hidden=(4,), activation="tanh", w_init="glorot_uniform")
    a = from_config(cfg, 3).init(key, jnp.zeros((1, 5)))[0]
    b = mlp([4], 3, act="tanh", w_init="glorot_uniform").init(key, jnp.zeros((1, 5)))[0]
    jax.tree.map(lambda u, v: pytest.approx(u) == v, a, b)
    assert jnp.array_equal(a["hidden_0"]["weight"], b["hidden_0"]["weight"])


def test_from_config_serial_names_and_initializers(key):
    layers = (
        {"type": "dense", "features": 4, "name": "hidden", "w_init": "zeros"},
        {"type": "leaky_relu", "negative_slope": 0.2},
        {"type": "dense", "features": 2},
    )
    model = from_config(SerialConfig(layers=layers), 2)
    params, state = model.init(key, jnp.zeros((1, 3)))
    assert sorted(params) == ["dense_2", "hidden", "leaky_relu_1"]
    assert not params["hidden"]["weight"].any()
    y, _ = model.apply(params, state, jnp.ones((5, 3)))
    assert y.shape == (5, 2)


@pytest.mark.parametrize(
    "layers, match",
    [
        ([{"type": "dens"}], r"model.layers\[0\].type.*did you mean 'dense'"),
        ([{"type": "dense", "featurs": 4}], r"model.layers\[0\].featurs.*'features'"),
        ([{"type": "dense"}], r"required arguments \['features'\] of dense"),
        ([{"type": "dense", "features": 0}], r"model.layers\[0\].*`features` > 0"),
        (
            [{"type": "dense", "features": 2, "w_init": "he_norml"}],
            r"model.layers\[0\].w_init.*did you mean 'he_normal'",
        ),
        (
            [{"type": "relu", "name": "a"}, {"type": "tanh", "name": "a"}],
            r"unique layer names at model.layers\[1\]",
        ),
        ([], r"`model.layers` to be non-empty"),
    ],
)
def test_serial_config_errors_name_the_config_path(layers, match):
    with pytest.raises(ValueError, match=match):
        from_config(SerialConfig(layers=tuple(layers)), 2)


def test_every_model_kind_has_a_builder():
    assert tuple(build.BUILDERS) == tuple(KINDS)


@pytest.mark.parametrize(
    "cfg, error, match",
    [
        (MlpConfig(kind="cnn"), JnnTypeError, r"^model: expected \[model\] for model"),
        (MlpConfig(kind="cnnn"), JnnValueError, r"did you mean 'cnn'"),
        (CnnConfig(dropout=1.0), JnnValueError, r"`model.dropout` in \[0, 1\)"),
        (MlpConfig(hidden=(0,)), JnnValueError, r"`model.hidden\[0\]` > 0"),
    ],
)
def test_from_config_validates_a_python_config_like_a_loaded_one(cfg, error, match):
    with pytest.raises(error, match=match):
        from_config(cfg, 2)
