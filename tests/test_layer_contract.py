"""The layer contract, checked for every case in `layer_cases.LAYER_CASES`.

Checks (STYLE.md section 7): init dtypes and jit/spec invariance; output spec
equals `jax.eval_shape`; jit equals eager and state keeps its structure; finite
grads and `check_grads` in float64; stochastic key discipline; no retracing;
golden param-structure snapshots; every public layer covered by a case.
"""

import functools
import importlib.util
import json
import pathlib
import sys
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.test_util
import numpy as np
import pytest

import jnn

pytestmark = pytest.mark.usefixtures("fast_compiles")


def _load_cases():
    # tests/ is not a package and pytest runs with --import-mode=importlib.
    if "layer_cases" not in sys.modules:
        path = pathlib.Path(__file__).with_name("layer_cases.py")
        spec = importlib.util.spec_from_file_location("layer_cases", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["layer_cases"] = module
        spec.loader.exec_module(module)
    return sys.modules["layer_cases"]


lc = _load_cases()
CASES = lc.LAYER_CASES
STOCHASTIC = [c for c in CASES if c.stochastic]


def _one_case_per_layer(cases):
    """Keep a case only if it covers a layer name no earlier case covered.

    Cases named after a layer (the canonical ones) are looked at first.
    """
    public = set(jnn.layers.__all__)
    seen, kept = set(), []
    for case in sorted(cases, key=lambda c: c.name not in public):
        names = {case.name, *case.covers} & public
        if names - seen:
            kept.append(case)
            seen |= names
    return kept


# check_grads is the slowest check (float64 recompiles everything), so it runs
# once per differentiable layer, not once per case.
GRAD_CHECKED = _one_case_per_layer([c for c in CASES if c.differentiable])
REGEN = "run `python scripts/regen_snapshots.py {name}` and review the diff"


def case_id(case):
    return case.name


by_case = pytest.mark.parametrize("case", CASES, ids=case_id)


def spec_of(x):
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), x)


def run(case, layer, params, state, x, key=None):
    return layer.apply(params, state, x, key=key, train=case.train)


class Built(NamedTuple):
    layer: jnn.Layer
    x: Any
    params: Any
    state: Any
    out: tuple  # eager (y, new_state); key APPLY_KEY if needs_key, else None


APPLY_KEY = 1


@functools.cache
def built(case):
    """Build, init (eagerly, from a spec) and apply a case once per session.

    Sharing this across tests keeps the suite fast: every eager op and jit
    compile costs time on CPU, and all values here are immutable.
    """
    layer = case.make()
    x = lc.make_input(case)
    params, state = layer.init(jr.key(0), spec_of(x))
    key = jr.key(APPLY_KEY) if case.needs_key else None  # others must not need one
    out = run(case, layer, params, state, x, key)
    return Built(layer, x, params, state, out)


@functools.cache
def traced_apply(case):
    """Return a jitted apply and the list its Python-side trace counter fills."""
    traces = []
    layer = built(case).layer

    def f(p, s, x, k):
        traces.append(1)  # Python side effect: runs only while tracing
        return run(case, layer, p, s, x, k)

    return jax.jit(f), traces


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for u, v in zip(
        jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True
    ):
        assert (u.shape, u.dtype) == (v.shape, v.dtype)
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol, atol=atol)


def float_leaves_sum(tree):
    leaves = jax.tree_util.tree_leaves(tree)
    return sum(jnp.sum(a) for a in leaves if jnp.issubdtype(a.dtype, jnp.floating))


@by_case
def test_init_returns_float32_arrays(case):
    b = built(case)
    for leaf in jax.tree_util.tree_leaves((b.params, b.state)):
        assert isinstance(leaf, jax.Array)
        assert leaf.dtype == jnp.float32


@by_case
def test_jit_init_matches_eager(case):
    b = built(case)
    jitted = jax.jit(lambda k: b.layer.init(k, spec_of(b.x)))(jr.key(0))
    assert_trees_close(jitted, (b.params, b.state), rtol=1e-6, atol=1e-7)


@by_case
def test_init_from_spec_equals_init_from_array(case):
    b = built(case)
    from_array = b.layer.init(jr.key(0), b.x)
    assert_trees_close(from_array, (b.params, b.state), rtol=0, atol=0)


@by_case
def test_init_does_not_depend_on_batch_size(case):
    b = built(case)
    bigger = jax.tree_util.tree_map(lambda a: jnp.concatenate([a, a, a]), b.x)
    got = b.layer.init(jr.key(0), spec_of(bigger))
    assert_trees_close(got, (b.params, b.state), rtol=0, atol=0)


@by_case
def test_apply_output_matches_eval_shape(case):
    b = built(case)
    expected = jax.eval_shape(
        lambda p, s, x, k: run(case, b.layer, p, s, x, k),
        *(b.params, b.state, b.x, jr.key(APPLY_KEY)),
    )
    assert spec_of(b.out) == expected


@by_case
def test_jit_apply_matches_eager(case):
    b = built(case)
    jitted, _ = traced_apply(case)
    assert_trees_close(jitted(b.params, b.state, b.x, jr.key(APPLY_KEY)), b.out)


@by_case
def test_apply_keeps_state_structure(case):
    b = built(case)
    assert spec_of(b.out[1]) == spec_of(b.state)


@pytest.mark.parametrize("case", [c for c in CASES if not c.stochastic], ids=case_id)
def test_deterministic_layer_ignores_key(case):
    b = built(case)
    with_key = run(case, b.layer, b.params, b.state, b.x, jr.key(APPLY_KEY))
    assert_trees_close(with_key, b.out, rtol=0, atol=0)


def split_floats(tree):
    """Return (floating leaves, rebuild): grads skip int leaves (lengths, ids)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    is_float = [jnp.issubdtype(a.dtype, jnp.floating) for a in leaves]

    def rebuild(floats):
        it = iter(floats)
        return treedef.unflatten(
            [next(it) if f else a for a, f in zip(leaves, is_float, strict=True)]
        )

    return [a for a, f in zip(leaves, is_float, strict=True) if f], rebuild


@by_case
def test_grads_are_finite(case):
    b = built(case)
    x_floats, rebuild = split_floats(b.x)

    def loss(p, xf):
        y = run(case, b.layer, p, b.state, rebuild(xf), jr.key(1))[0]
        return float_leaves_sum(y)

    grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(b.params, x_floats)
    for leaf in jax.tree_util.tree_leaves(grads):
        assert np.all(np.isfinite(np.asarray(leaf)))


@pytest.fixture
def built_then_x64(case):
    """Yield `built(case)`, made first in default precision, with float64 on.

    Building first matters: random draws (dropout masks) depend on the flag,
    and `built` is cached for the other tests. The flag is restored after.
    """
    b = built(case)
    previous = jax.config.values["jax_enable_x64"]
    jax.config.update("jax_enable_x64", True)
    yield b
    jax.config.update("jax_enable_x64", previous)


def to_f64(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), tree)


@pytest.mark.parametrize("case", GRAD_CHECKED, ids=case_id)
def test_check_grads_float64(case, built_then_x64):
    b = built_then_x64
    params, state, x = to_f64(b.params), to_f64(b.state), to_f64(b.x)
    assert jax.tree_util.tree_leaves(x)[0].dtype == jnp.float64  # x64 is on

    @jax.jit  # one compile rather than many eager ones
    def f(p, x):
        return run(case, b.layer, p, state, x, jr.key(1))[0]

    jax.test_util.check_grads(f, (params, x), order=1, modes=["rev"])


stochastic = pytest.mark.parametrize("case", STOCHASTIC, ids=case_id)


@stochastic
def test_stochastic_same_key_same_output(case):
    b = built(case)
    again = run(case, b.layer, b.params, b.state, b.x, jr.key(APPLY_KEY))
    assert_trees_close(again, b.out, rtol=0, atol=0)


@stochastic
def test_stochastic_different_keys_differ(case):
    b = built(case)
    other = run(case, b.layer, b.params, b.state, b.x, jr.key(APPLY_KEY + 1))[0]
    assert not np.array_equal(np.asarray(other), np.asarray(b.out[0]))


@stochastic
def test_stochastic_train_without_key_raises(case):
    b = built(case)
    with pytest.raises(ValueError, match=r"expected a PRNG `key` when train=True"):
        run(case, b.layer, b.params, b.state, b.x, None)


@by_case
def test_jit_apply_does_not_retrace(case):
    b = built(case)
    jitted, traces = traced_apply(case)
    jitted(b.params, b.state, b.x, jr.key(1))
    before = len(traces)
    shifted = jax.tree_util.tree_map(lambda a: a + 1, b.x)
    jitted(b.params, b.state, shifted, jr.key(2))
    assert len(traces) == before  # new values, same shapes: no retrace


def test_trace_counter_sees_retraces():
    # Once, not per case: the counter above must see a retrace on a new shape.
    case = lc.CASES_BY_NAME["dense"]
    b = built(case)
    jitted, traces = traced_apply(case)
    jitted(b.params, b.state, b.x, jr.key(1))
    before = len(traces)
    jitted(b.params, b.state, jnp.concatenate([b.x, b.x]), jr.key(1))
    assert len(traces) == before + 1


def snapshot_diff(golden, got):
    """Return one line per path whose signature differs (None = absent)."""
    lines = []
    for tree in sorted(set(golden) | set(got)):
        old, new = golden.get(tree, {}), got.get(tree, {})
        for path in sorted(set(old) | set(new)):
            if old.get(path) != new.get(path):
                lines.append(f"{tree}{path}: {old.get(path)} -> {new.get(path)}")
    return lines


@by_case
def test_param_structure_matches_snapshot(case):
    path = lc.snapshot_path(case)
    if not path.exists():
        pytest.fail(f"missing snapshot {path.name}; {REGEN.format(name=case.name)}")
    golden = json.loads(path.read_text())
    changes = snapshot_diff(golden, lc.snapshot(case))
    assert not changes, (
        f"param structure of {case.name!r} differs from {path.name} "
        f"(golden -> now):\n  "
        + "\n  ".join(changes)
        + f"\nIf intended, {REGEN.format(name=case.name)}."
    )


def test_no_orphan_snapshots():
    orphans = sorted(
        p.name for p in lc.SNAPSHOT_DIR.glob("*.json") if p.stem not in lc.CASES_BY_NAME
    )
    assert not orphans, f"snapshots without a case: {orphans}; use --prune"


def test_case_names_are_unique():
    assert len(lc.CASES_BY_NAME) == len(CASES)


def test_every_public_layer_has_a_case():
    public = set(jnn.layers.__all__)
    missing = sorted(public - lc.covered_names() - lc.IGNORED)
    assert not missing, f"add a Case to tests/layer_cases.py for {missing}"
    stale = sorted(lc.IGNORED - public)
    assert not stale, f"IGNORED lists names not in jnn.layers.__all__: {stale}"


def test_covers_names_are_public():
    unknown = sorted({n for c in CASES for n in c.covers} - set(jnn.layers.__all__))
    assert not unknown, f"Case.covers names not in jnn.layers.__all__: {unknown}"


@by_case
def test_constructor_labels_its_kind(case):
    # Layer.kind is the constructor's name (jnn.summary, named scopes); only a
    # user's own Layer(init, apply) keeps the default "layer".
    kind = case.make().kind
    assert kind != "layer", f"{case.name}: pass the label, Layer(init, apply, kind)"
    assert kind in set(jnn.layers.__all__), f"{case.name}: {kind!r} is no constructor"
