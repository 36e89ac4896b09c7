"""Gradient-flow diagnostics and the vanishing-gradient experiment, measured."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.diagnostics import gradient_flow
from jnn.experiments import vanishing_gradients as experiment
from jnn.layers import activation, dense

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate


def test_weight_gradient_norms_in_depth_order():
    grads = {
        "layer_10": {"weight": jnp.full((2, 2), 1.0), "bias": jnp.ones(2)},
        "layer_2": {"weight": jnp.array([3.0, 4.0])},
    }
    norms = gradient_flow.weight_gradient_norms(grads)
    assert list(norms) == ["['layer_2']['weight']", "['layer_10']['weight']"]
    assert list(norms.values()) == [5.0, 2.0]


def test_dead_and_saturated_fractions_by_hand():
    y = jnp.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0]])
    assert gradient_flow.dead_fraction(y) == 0.5  # units 0 and 2 never fire
    s = jnp.array([0.001, 0.5, 0.995, 0.2])
    assert gradient_flow.saturated_fraction(s, "sigmoid") == 0.5
    t = jnp.array([-0.999, 0.0, 0.5, 0.9999])
    assert gradient_flow.saturated_fraction(t, "tanh") == 0.5


def test_saturated_fraction_unknown_kind_raises():
    with pytest.raises(ValueError, match="did you mean 'tanh'"):
        gradient_flow.saturated_fraction(jnp.zeros(2), "tahn")


def test_layer_outputs_match_step_by_step(key):
    layers = {"hidden": dense(3), "act": activation("relu")}
    from jnn.layers import named

    params, state = named(**layers).init(key, jnp.zeros((2, 4)))
    x = jnp.ones((2, 4))
    outs = gradient_flow.layer_outputs(layers, params, state, x)
    hidden, _ = layers["hidden"].apply(params["hidden"], {}, x)
    np.testing.assert_allclose(outs["hidden"], hidden)
    np.testing.assert_allclose(outs["act"], jnp.maximum(hidden, 0.0))
    with pytest.raises(ValueError, match="params with an entry 'act'"):
        gradient_flow.layer_outputs(layers, {"hidden": params["hidden"]}, state, x)


def test_layer_outputs_draw_the_same_dropout_masks_as_named(key):
    from jnn.layers import dropout, named

    layers = {"hidden": dense(16), "drop": dropout(0.5), "out": dense(3)}
    model = named(**layers)
    x = jnp.ones((4, 5))
    params, state = model.init(key, x)
    apply_key = jax.random.key(7)
    y, _ = model.apply(params, state, x, key=apply_key, train=True)
    outs = gradient_flow.layer_outputs(
        layers, params, state, x, key=apply_key, train=True
    )
    np.testing.assert_array_equal(outs["out"], y)
    # The masks matter: another key gives another output.
    other, _ = model.apply(params, state, x, key=jax.random.key(8), train=True)
    assert not np.allclose(other, y)


def test_sigmoid_vanishes_and_he_relu_does_not_in_a_short_run():
    x, y = experiment._digits(0)
    batches = experiment._batches(len(x), 32, 5, 0)
    sig = experiment.run_network("sigmoid_naive_init", x, y, batches, lr=1e-2, seed=0)
    relu = experiment.run_network("relu_he_init", x, y, batches, lr=1e-2, seed=0)
    assert len(sig["grad_norm_mean"]) == experiment.DEPTH
    assert sig["first_over_last"] < 1e-6  # vanished by many orders of magnitude
    assert 0.1 < relu["first_over_last"] < 10
    assert len(sig["saturated_fraction"]) == experiment.DEPTH - 1


@pytest.mark.slow
def test_batch_norm_and_residual_stay_within_10x_over_300_steps():
    x, y = experiment._digits(0)
    batches = experiment._batches(len(x), 64, 300, 0)
    for name in ("relu_batch_norm", "relu_residual"):
        record = experiment.run_network(name, x, y, batches, lr=1e-2, seed=0)
        assert 0.1 <= record["first_over_last"] <= 10, (name, record["first_over_last"])


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    report = {"depth": 3, "steps": 1, "networks": {}}
    report["networks"]["a"] = {
        "grad_norm_mean": [1e-3, 1e-2, 1.0],
        "first_over_last": 1e-3,
    }
    experiment.plot(report, tmp_path / "flow.png")
    head = (tmp_path / "flow.png").read_bytes()[:8]
    assert head == b"\x89PNG\r\n\x1a\n"
    json.dumps(report)  # the report format is JSON-able
