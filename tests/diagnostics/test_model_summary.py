"""`jnn.diagnostics.model_summary`: per-layer paths, output shapes, parameter counts and FLOPs."""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from jnn import Layer, models
from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.diagnostics.model_summary import from_config, summary
from jnn.layers import (
    avg_pool,
    batch_norm,
    conv,
    dense,
    dropout,
    flatten,
    global_max_pool,
    max_pool,
    named,
    relu,
    residual,
    serial,
    spatial_dropout,
)
from jnn.models.config import MlpConfig

pytestmark = pytest.mark.usefixtures("fast_compiles")
ROOT = Path(__file__).resolve().parents[2]


def _rows(s):
    return [(r.path, r.kind, r.output, r.params, r.flops) for r in s.rows]


def test_mlp_rows_match_hand_counts_in_model_order():
    b, f, h, c = 5, 64, 16, 3
    s = summary(
        models.mlp([h], c, drop_rate=0.5),
        jax.ShapeDtypeStruct((b, 8, 8, 1), jnp.float32),
    )
    assert _rows(s) == [
        ("flatten", "flatten", ((b, f),), 0, 0),
        ("hidden_0", "dense", ((b, h),), f * h + h, 2 * b * f * h),
        ("act_0", "activation", ((b, h),), 0, 0),
        ("dropout_0", "dropout", ((b, h),), 0, 0),  # named from train mode
        ("output", "dense", ((b, c),), h * c + c, 2 * b * h * c),
    ]
    assert s.params == f * h + h + h * c + c
    assert s.flops == 2 * b * (f * h + h * c)


def test_cnn_conv_flops_are_two_macs_per_output_element():
    b, cin, cout, k = 2, 3, 4, 3
    model = serial(
        conv(cout, (k, k)),
        relu(),
        conv(cout, (k, k), padding="VALID", use_bias=False),
        flatten(),
        dense(2),
    )
    s = summary(model, jnp.zeros((b, 6, 6, cin)))
    rows = _rows(s)
    assert rows[0] == (
        "0",
        "conv",
        ((b, 6, 6, cout),),
        k * k * cin * cout + cout,
        2 * b * 36 * cout * k * k * cin,
    )
    assert rows[2] == (
        "2",
        "conv",
        ((b, 4, 4, cout),),
        k * k * cout * cout,
        2 * b * 16 * cout * k * k * cout,
    )
    assert rows[4][2:] == (((b, 2),), 64 * 2 + 2, 2 * b * 64 * 2)
    assert s.flops == sum(r[4] for r in rows)


def test_matmul_and_valid_conv_flops_agree_with_xla_cost_analysis():
    model = serial(
        conv(4, (3, 3), padding="VALID", use_bias=False),
        flatten(),
        dense(5, use_bias=False),
    )
    x = jnp.zeros((2, 8, 8, 3))
    params, state = model.init(jax.random.key(0), x)
    apply = jax.jit(lambda p, s, x: model.apply(p, s, x)[0])
    cost = apply.lower(params, state, x).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost  # older jax: one per device
    assert summary(model, x).flops == cost["flops"] == 2 * 2 * (36 * 4 * 27 + 144 * 5)


def test_grouped_conv_divides_the_macs_by_the_groups():
    s = summary(conv(8, (3,), groups=4), jnp.zeros((1, 10, 8)))
    ((path, kind, out, _, flops),) = _rows(s)
    assert (path, kind, out) == ("", "conv", ((1, 10, 8),))
    assert flops == 2 * 10 * 8 * 3 * (8 // 4)


def test_nested_paths_follow_the_params_tree():
    model = named(
        block=residual(serial(dense(4), relu())), head=serial(dropout(0.1), dense(2))
    )
    s = summary(model, jnp.zeros((3, 4)))
    assert [(r.path, r.kind) for r in s.rows] == [
        ("block/body/0", "dense"),
        ("block/body/1", "activation"),
        ("block/shortcut", "-"),  # identity: no ops in either mode, no kind
        ("head/0", "dropout"),
        ("head/1", "dense"),
    ]
    assert s.rows[2].output == ()
    assert [r.params for r in s.rows] == [20, 0, 0, 0, 10]


def test_scan_flops_count_every_time_step():
    b, t, f, h = 2, 5, 3, 4
    s = summary(_rnn(h), jnp.zeros((b, t, f)))
    # a simple RNN cell: x @ W_x (f -> h) and h @ W_h (h -> h) at every step,
    # then dense(2) on each of the t outputs
    assert [r.flops for r in s.rows] == [t * 2 * b * (f * h + h * h), 2 * b * t * h * 2]


def _rnn(h):
    from jnn.layers import rnn, simple_rnn_cell

    return serial(rnn(simple_rnn_cell(h)), dense(2))


def test_table_lists_rows_and_totals():
    text = str(summary(serial(dense(8), relu(), dense(2)), jnp.zeros((1, 3))))
    lines = text.splitlines()
    assert lines[0] == "input (1, 3)"
    head = ["path", "layer", "output", "shape", "params", "state", "FLOPs"]
    assert lines[1].split() == head
    assert lines[3].split() == ["0", "dense", "(1,", "8)", "32", "0", "48"]
    assert lines[-1].split() == ["total", "50", "0", "80"]


def test_from_config_and_the_script_print_the_trained_models_table(capsys):
    cfg = Config(
        data=SyntheticConfig(name="moons", num_samples=128),
        model=MlpConfig(hidden=(4,)),
    )
    s = from_config(cfg)
    assert s.input == (1, 2) and s.params == (2 * 4 + 4) + (4 * 2 + 2)
    script = _load_script(ROOT / "scripts" / "summary.py")
    argv = [str(ROOT / "configs" / "moons_sgd.toml"), "--set", "model.hidden=[5]"]
    assert script.main([*argv, "--batch-size", "3"]) == 0
    out = capsys.readouterr().out
    assert "hidden_0" in out and "(3, 5)" in out
    assert out.splitlines()[-1].split()[:2] == ["total", f"{2 * 5 + 5 + 5 * 2 + 2}"]


def _load_script(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pooling_rows_are_named_by_their_constructor():
    model = serial(max_pool((2, 2)), avg_pool((2, 2)), global_max_pool())
    s = summary(model, jnp.zeros((1, 8, 8, 3)))
    assert [(r.kind, r.output) for r in s.rows] == [
        ("max_pool", ((1, 4, 4, 3),)),
        ("avg_pool", ((1, 2, 2, 3),)),
        ("global_max_pool", ((1, 3),)),
    ]


def _double() -> tuple:
    def init(key, x_spec):
        del key, x_spec
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return x @ jnp.ones((x.shape[-1], x.shape[-1]), x.dtype), state

    return init, apply


def test_user_layers_show_their_label_or_layer():
    plain, labelled = Layer(*_double()), Layer(*_double(), "double")
    assert (plain.kind, labelled.kind) == ("layer", "double")
    x = jnp.zeros((1, 3))
    assert [r.kind for r in summary(plain, x).rows] == ["layer"]
    s = summary(serial(plain, labelled, dense(2)), x)
    assert [(r.path, r.kind) for r in s.rows] == [
        ("0", "layer"),
        ("1", "double"),
        ("2", "dense"),
    ]


def test_kinds_are_constructor_labels_not_function_names():
    # spatial_dropout shares its apply with dropout; the label tells them apart.
    model = serial(conv(2, (3, 3)), spatial_dropout(0.5), dropout(0.5))
    s = summary(model, jnp.zeros((1, 4, 4, 1)))
    assert [r.kind for r in s.rows] == ["conv", "spatial_dropout", "dropout"]


def test_params_and_state_are_counted_apart():
    b, f, h, c = 4, 3, 6, 2
    model = named(
        hidden=dense(h), norm=batch_norm(), act=relu(), output=dense(c, use_bias=False)
    )
    s = summary(model, jnp.zeros((b, f)))
    got = [(r.path, r.kind, r.params, r.state) for r in s.rows]
    assert got == [
        ("hidden", "dense", f * h + h, 0),
        ("norm", "batch_norm", 2 * h, 2 * h),  # scale, bias | running mean, var
        ("act", "activation", 0, 0),
        ("output", "dense", h * c, 0),
    ]
    assert (s.params, s.state) == (f * h + h + 2 * h + h * c, 2 * h)
    lines = str(s).splitlines()
    assert lines[1].split()[4:] == ["params", "state", "FLOPs"]
    assert lines[4].split()[:3] == ["norm", "batch_norm", f"({b},"]
    assert lines[4].split()[-3:-1] == [f"{2 * h}", f"{2 * h}"]
    assert lines[-1].split()[:3] == ["total", f"{s.params}", f"{2 * h}"]


def test_rows_and_summaries_built_without_state_still_work():
    row = summary(dense(2), jnp.zeros((1, 3))).rows[0]
    assert row._replace(state=0) == type(row)("", "dense", ((1, 2),), 8, 12)
