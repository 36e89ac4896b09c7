"""Host-side checks in `jnn.train.setup` that run before anything is traced."""

import re

import jax
import pytest

from jnn import JnnValueError
from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.models.config import MlpConfig
from jnn.train import setup
from jnn.train.config import LossConfig, TrainConfig


def _cfg(name="moons", loss="sparse_softmax_cross_entropy", hidden=(4,), batch=16):
    return Config(
        data=SyntheticConfig(name=name, num_samples=64),
        model=MlpConfig(hidden=hidden),
        loss=LossConfig(name=loss),
        train=TrainConfig(epochs=1, batch_size=batch),
    )


@pytest.mark.parametrize(
    "name, loss, expected",
    [
        (
            "moons",
            "mse",
            "setup: expected `loss.name` to be a loss for integer class labels, one of"
            " ['multiclass_hinge', 'sparse_softmax_cross_entropy'], got 'mse'."
            " Hint: data 'moons' has 2 classes.",
        ),
        (
            "linear",
            "sparse_softmax_cross_entropy",
            "setup: expected `loss.name` to be a loss for float regression targets,"
            " e.g. 'mse' or 'huber', got 'sparse_softmax_cross_entropy'."
            " Hint: data 'linear' has float targets, not class labels.",
        ),
    ],
)
def test_a_loss_that_does_not_fit_the_targets_fails_before_tracing(
    name, loss, expected
):
    with pytest.raises(JnnValueError, match=re.escape(expected)):
        setup.build(_cfg(name, loss))


def test_batch_size_larger_than_the_training_split_names_both_numbers():
    # moons, 64 samples: 46 train after the default val/test fractions
    with pytest.raises(
        JnnValueError,
        match=re.escape("`train.batch_size` <= the 46 training examples, got 64."),
    ):
        setup.build(_cfg(batch=64))


def test_params_of_another_config_are_rejected_with_their_key_paths():
    run = setup.build(_cfg(hidden=(4,)))
    assert setup.input_spec(run) == jax.ShapeDtypeStruct((16, 2), "float32")
    other = setup.build(_cfg(hidden=(5,)))
    params = jax.eval_shape(
        other.model.init, jax.random.key(0), setup.input_spec(other)
    )[0]
    setup.check_params(
        run, run.model.init(jax.random.key(0), setup.input_spec(run))[0], "x"
    )
    with pytest.raises(
        JnnValueError,
        match=re.escape(
            "evaluate: expected params of the model (4 key paths), got 3 differences:"
        ),
    ) as info:
        setup.check_params(run, params, "evaluate")
    assert "['hidden_0']['bias']: expected float32[4], got float32[5]" in str(
        info.value
    )
