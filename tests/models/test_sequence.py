"""The recurrent sequence classifier: rows as steps, stacking, errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from jnn.layers import lstm_cell, rnn
from jnn.models import from_config, rows_as_sequence, sequence_classifier
from jnn.models.config import RnnConfig

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate


def test_rows_as_sequence_reads_images_row_by_row():
    x = jnp.arange(2 * 8 * 8 * 1, dtype=jnp.float32).reshape(2, 8, 8, 1)
    y, _ = rows_as_sequence().apply({}, {}, x)
    np.testing.assert_array_equal(y[:, 3], x[:, 3, :, 0])  # step 3 = row 3
    seq = jnp.ones((2, 5, 3))
    assert rows_as_sequence().apply({}, {}, seq)[0] is seq


def test_rows_as_sequence_rejects_flat_input():
    with pytest.raises(
        ValueError, match=r"rows_as_sequence: expected input \(B, T, F\)"
    ):
        rows_as_sequence().apply({}, {}, jnp.ones((2, 64)))


def test_classifier_equals_its_parts(key):
    model = sequence_classifier(10, cell="lstm", hidden=(6,))
    x = jnp.ones((3, 8, 8, 1)) * jnp.linspace(-1, 1, 8)[None, :, None, None]
    params, state = model.init(key, x)
    y, _ = model.apply(params, state, x)
    h, _ = rnn(lstm_cell(6), return_sequences=False).apply(
        params["rnn_0"], {}, x[..., 0]
    )
    want = h @ params["output"]["weight"] + params["output"]["bias"][None]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru"])
def test_stacked_and_bidirectional_shapes(key, cell):
    cfg = RnnConfig(cell=cell, hidden=(5, 4), bidirectional=True)
    model = from_config(cfg, 3)
    params, state = model.init(key, jnp.zeros((2, 7, 6)))
    assert sorted(params) == ["output", "rnn_0", "rnn_1", "rows"]
    assert model.apply(params, state, jnp.ones((2, 7, 6)))[0].shape == (2, 3)


def test_unknown_cell_raises():
    with pytest.raises(ValueError, match="did you mean 'lstm'"):
        sequence_classifier(2, cell="lstmm")
