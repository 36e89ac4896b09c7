"""The transformer models: a causal LM that refuses sequences past max_len,
a ViT whose patches, pooling and heads fit, that learns digits in a few steps,
and their config kinds."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from jnn import config as config_lib
from jnn import data, losses
from jnn.models import class_token, from_config, patches, transformer_lm, vit
from jnn.models.config import TransformerLmConfig, VitConfig

pytestmark = pytest.mark.usefixtures("fast_compiles")


def test_lm_output_at_t_ignores_tokens_after_t():
    model = transformer_lm(9, features=8, blocks=2, num_heads=2, positions="rope")
    ids = jnp.array([[1, 2, 3, 4, 5, 6]], jnp.int32)
    params, state = jax.jit(model.init)(jr.key(0), ids)
    apply = jax.jit(lambda ids: model.apply(params, state, ids)[0])
    before, after = apply(ids), apply(ids.at[0, 3:].set(8))
    assert before.shape == (1, 6, 9)
    np.testing.assert_array_equal(before[0, :3], after[0, :3])  # past unchanged
    assert not np.allclose(before[0, 3:], after[0, 3:])


def test_lm_from_config_has_the_documented_tree():
    cfg = TransformerLmConfig(features=8, blocks=2, num_heads=2, max_len=12)
    model = from_config(cfg, 7)
    params, _ = jax.eval_shape(model.init, jr.key(0), jnp.zeros((2, 5), jnp.int32))
    want = ["block_0", "block_1", "embed", "norm", "output", "positions"]
    assert sorted(params) == want
    assert params["positions"]["embedding"].shape == (12, 8)
    assert params["block_0"]["mlp"]["hidden"]["weight"].shape == (8, 32)
    rope = from_config(TransformerLmConfig(features=8, positions="rope"), 7)
    assert (
        "positions"
        not in jax.eval_shape(rope.init, jr.key(0), jnp.zeros((1, 3), jnp.int32))[0]
    )


@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rope"])
def test_lm_refuses_sequences_longer_than_max_len(positions):
    model = transformer_lm(5, features=8, num_heads=2, max_len=4, positions=positions)
    with pytest.raises(
        ValueError, match=r"transformer_lm: expected at most `max_len` = 4"
    ):
        jax.eval_shape(model.init, jr.key(0), jnp.zeros((1, 5), jnp.int32))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: transformer_lm(0), r"transformer_lm: expected `vocab_size` > 0"),
        (lambda: transformer_lm(5, blocks=0), r"expected `blocks` > 0"),
        (
            lambda: transformer_lm(5, positions="alibi"),
            r"expected `positions` to be one of",
        ),
        (
            lambda: transformer_lm(5, features=10, num_heads=4),
            r"expected `features` divisible by `num_heads` = 4, got features = 10",
        ),
        (
            lambda: transformer_lm(5, features=12, num_heads=4, positions="rope"),
            r"an even head size features / num_heads with rotary positions, got 12 / 4 = 3",
        ),
        (lambda: vit(10, pool="max"), r"vit: expected `pool` to be one of"),
        (lambda: vit(10, positions="alibi"), r"vit: expected `positions` to be one of"),
        (
            lambda: vit(10, features=12, positions="rope"),
            r"vit: expected an even head size",
        ),
        (
            lambda: vit(10, features=6, num_heads=4),
            r"vit: expected `features` divisible",
        ),
        (lambda: patches(2), r"patches: expected `patch_size` \(P_H, P_W\), got 2"),
        (lambda: patches((2, 0)), r"patches: expected `patch_size` > 0"),
    ],
)
def test_constructor_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_patches_cut_row_major_patches():
    x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
    y, _ = patches((2, 3)).apply({}, {}, x)
    assert y.shape == (2, 4, 18)
    np.testing.assert_array_equal(y[1, 1], x[1, 0:2, 3:6].reshape(-1))
    np.testing.assert_array_equal(y[0, 2], x[0, 2:4, 0:3].reshape(-1))
    with pytest.raises(ValueError, match=r"patches: expected an image whose H and W"):
        patches((3, 3)).init(None, x)


def test_class_token_prepends_one_learned_token():
    x = jnp.ones((2, 3, 4))
    layer = class_token()
    params, state = layer.init(jr.key(0), x)
    y, _ = layer.apply({"embedding": jnp.full((1, 4), 5.0)}, state, x)
    assert params["embedding"].shape == (1, 4) and y.shape == (2, 4, 4)
    np.testing.assert_array_equal(y[:, 0], 5.0)
    np.testing.assert_array_equal(y[:, 1:], x)


@pytest.mark.parametrize(
    ("pool", "positions", "tokens"),
    [
        ("class_token", "learned", 17),
        ("mean", "sinusoidal", None),
        ("mean", "rope", None),
    ],
)
def test_vit_shapes_and_tree(pool, positions, tokens):
    model = vit(10, features=8, blocks=1, num_heads=2, pool=pool, positions=positions)
    x = jnp.zeros((3, 8, 8, 1))
    params, state = jax.eval_shape(model.init, jr.key(0), x)
    out = jax.eval_shape(lambda p, x: model.apply(p, state, x)[0], params, x)
    assert out.shape == (3, 10)
    assert params["embed"]["weight"].shape == (4, 8)  # 2x2x1 pixels per patch
    assert ("class_token" in params) == (pool == "class_token")
    if tokens:
        assert params["positions"]["embedding"].shape == (tokens, 8)
    assert ("positions" in params) == (positions != "rope")


def test_vit_learns_digits_in_a_few_steps():
    splits = data.load_digits()
    x = np.asarray(splits.x, np.float32) / 16.0
    y = np.asarray(splits.y)
    train_x, train_y, test_x, test_y = x[:1200], y[:1200], x[1200:], y[1200:]
    model = vit(10, patch_size=(4, 4), features=32, blocks=1, num_heads=2)
    params, state = jax.jit(model.init)(jr.key(0), train_x[:1])
    optimizer = optax.adam(3e-3)

    def loss(p, x, y):
        logits = model.apply(p, state, x)[0]
        return losses.sparse_softmax_cross_entropy(logits, y).mean()

    @jax.jit
    def step(p, o, x, y):
        grads = jax.grad(loss)(p, x, y)
        with jax.numpy_dtype_promotion("standard"):  # optax's b1 ** count
            updates, o = optimizer.update(grads, o)
        return optax.apply_updates(p, updates), o

    opt_state = optimizer.init(params)
    rng = np.random.default_rng(0)
    for _ in range(60):
        batch = rng.integers(0, len(train_x), 128)
        params, opt_state = step(params, opt_state, train_x[batch], train_y[batch])
    predict = jax.jit(lambda p, x: model.apply(p, state, x)[0].argmax(-1))
    accuracy = float((predict(params, test_x) == test_y).mean())
    assert accuracy > 0.8, accuracy


def _load(tmp_path, text: str):
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return config_lib.load(path)


def test_configs_build_and_pair_with_their_data(tmp_path):
    lm = _load(tmp_path, "[data]\nname = 'text'\n[model]\nkind = 'transformer_lm'")
    assert lm.model == TransformerLmConfig()
    image = _load(tmp_path, "[model]\nkind = 'vit'\npatch_size = [4, 2]")
    assert image.model == VitConfig(patch_size=(4, 2))
    with pytest.raises(
        ValueError, match=r"got kind 'transformer_lm' with data 'digits'"
    ):
        _load(tmp_path, "[model]\nkind = 'transformer_lm'")
    with pytest.raises(ValueError, match=r"got kind 'vit' with data 'text'"):
        _load(tmp_path, "[data]\nname = 'text'\n[model]\nkind = 'vit'")


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        (
            "kind = 'vit'\nfeatures = 10\nnum_heads = 4",
            r"expected `model.features` / `model.num_heads` to be a whole number "
            r"\(the head size\), got 10 / 4. Hint: e.g. model.features = 8",
        ),
        (
            "kind = 'vit'\npositions = 'alibi'",
            r"expected `model.positions` to be one of \['learned', 'rope', 'sinusoidal'\]",
        ),
        (
            "kind = 'vit'\npatch_size = [2, 2, 2]",
            r"`model.patch_size` to be \[P_H, P_W\]",
        ),
        (
            "kind = 'vit'\npool = 'max'",
            r"`model.pool` to be one of \['class_token', 'mean'\]",
        ),
    ],
)
def test_vit_config_errors(tmp_path, toml, match):
    with pytest.raises(ValueError, match=match):
        _load(tmp_path, f"[model]\n{toml}")


def test_transformer_lm_config_errors(tmp_path):
    text = "[data]\nname = 'text'\n[model]\nkind = 'transformer_lm'\n"
    with pytest.raises(
        ValueError, match=r"to be an even number \(the head size\), got 12 / 4"
    ):
        _load(tmp_path, text + "features = 12\nnum_heads = 4\npositions = 'rope'")
    with pytest.raises(ValueError, match=r"`model.max_len` > 0"):
        _load(tmp_path, text + "max_len = 0")
