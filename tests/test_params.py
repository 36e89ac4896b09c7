"""`jnn.params.check_params`: foreign params fail before tracing, naming paths."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import JnnValueError, models
from jnn.layers import dense, named, relu, serial
from jnn.params import check_params, count, differences, param_specs

pytestmark = pytest.mark.usefixtures("fast_compiles")
X = jax.ShapeDtypeStruct((2, 3), jnp.float32)


def _params(model, x=X):
    return model.init(jax.random.key(0), jnp.zeros(x.shape, x.dtype))[0]


def test_matching_params_and_their_specs_pass():
    model = models.mlp([4], 2)
    check_params(model, _params(model), X)
    check_params(model, param_specs(model, X)[0], X)  # shape specs are enough
    assert count(param_specs(model, X)[0]) == (3 * 4 + 4) + (4 * 2 + 2)


def test_other_widths_name_each_path_with_expected_and_got():
    with pytest.raises(JnnValueError) as info:
        check_params(models.mlp([4], 2), _params(models.mlp([5], 2)), X, where="apply")
    text = str(info.value)
    assert text.startswith("apply: expected params of the model (4 key paths), got 3 ")
    assert "['hidden_0']['weight']: expected float32[3, 4], got float32[3, 5]" in text
    assert "['output']['weight']: expected float32[4, 2], got float32[5, 2]" in text
    assert "Hint: these params come from another model or config." in text


def test_missing_and_unexpected_layers_are_listed():
    model = named(a=dense(2), b=relu())
    other = named(a=dense(2), c=dense(2))
    with pytest.raises(
        JnnValueError,
        match=re.escape("1 difference: unexpected ['c']['bias'] (float32[2])"),
    ):
        check_params(
            model, {**_params(model), "c": {"bias": np.zeros(2, np.float32)}}, X
        )
    lines = differences(param_specs(other, X)[0], _params(model))
    assert lines == [
        "missing ['c']['bias'] (float32[2])",
        "missing ['c']['weight'] (float32[2, 2])",
    ]


def test_dtype_and_structure_differences_are_caught():
    model = serial(dense(2), relu())
    p = _params(model)
    p16 = jax.tree.map(lambda w: w.astype(jnp.bfloat16), p)
    with pytest.raises(
        JnnValueError, match=re.escape("expected float32[2], got bfloat16[2]")
    ):
        check_params(model, p16, X)
    # same leaves, different containers: serial's tuple vs a list
    with pytest.raises(JnnValueError, match="tree structure"):
        check_params(model, list(p), X)


def test_many_differences_are_truncated():
    model = serial(*[dense(2) for _ in range(6)])
    wrong = _params(serial(*[dense(3) for _ in range(6)]))
    with pytest.raises(JnnValueError, match=r"got 12 differences: .* and 4 more\."):
        check_params(model, wrong, X)
