"""Generate text from a trained transformer LM (`model.kind = "transformer_lm"`).

A key/value cache makes each new token cost one step: every block keeps the
keys and values of the positions read so far in a fixed (1, N, H, D) buffer
(N = prime + length), so a new token attends to the buffer instead of
re-running the model over its prefix. One `lax.scan` reads the prime one
position at a time, then feeds each sampled token back in, inside one `jit`,
with the temperature traced (changing it never recompiles; a new prime length
does). `make_sampler(..., model=m)` re-runs
the whole model `m` over the prefix at every step instead: the reference the
cache is tested against (same key, same tokens).
"""

from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
from jax import lax

from jnn import _checks
from jnn._types import Layer
from jnn.generation.language_model import (
    LanguageModel,
    load_kind,
    sample_with,
)
from jnn.layers import apply_rope, dense, dot_product_attention
from jnn.layers.transformer import BlockParts
from jnn.models import build
from jnn.models.transformers import TransformerLmParts, transformer_lm_parts

Sampler = Callable[..., jax.Array]  # (params, prime_ids, key, temperature) -> ids


def parts_from_config(cfg, vocab_size: int) -> TransformerLmParts:
    """The parts of the model a `TransformerLmConfig` describes."""
    return transformer_lm_parts(vocab_size, **build.transformer_lm_options(cfg))


def _position_table(parts: TransformerLmParts, params, steps: int, dtype):
    """(steps, F) vectors the model adds at positions 0..steps-1 (zeros for rope)."""
    f = params["embed"]["embedding"].shape[1]
    zeros = jnp.zeros((1, steps, f), dtype)
    if parts.positions is None:
        return zeros[0]
    return parts.positions.apply(params.get("positions", {}), {}, zeros)[0][0]


def _project(p, x):
    """A projection of the attention params: x @ weight + bias."""
    return dense(p["weight"].shape[1]).apply(p, {}, x)[0]


def _cached_attention(parts: TransformerLmParts, p, h, cache, pos):
    """Attend from h (1, 1, F) at `pos` to the cached positions <= pos."""
    keys, values = cache
    heads = parts.num_heads

    def split(name):  # (1, 1, F) -> (1, 1, H, D)
        return _project(p[name], h).reshape(1, 1, heads, -1)

    q, k, v = split("query"), split("key"), split("value")
    if parts.rope:
        q, k = apply_rope(q, pos[None]), apply_rope(k, pos[None])
    keys = lax.dynamic_update_slice(keys, k, (0, pos, 0, 0))  # (1, N, H, D)
    values = lax.dynamic_update_slice(values, v, (0, pos, 0, 0))
    mask = (jnp.arange(keys.shape[1]) <= pos)[None, None, None, :]  # (1, 1, 1, N)
    o = dot_product_attention(q, keys, values, mask=mask)  # (1, 1, H, D)
    return _project(p["output"], o.reshape(1, 1, -1)), (keys, values)


def _block_step(parts, block: BlockParts, p, h, cache, pos):
    """One block at one position, as `jnn.layers.transformer.apply_block`."""
    a = block.attention_norm.apply(p["attention_norm"], {}, h)[0]
    a, cache = _cached_attention(parts, p["attention"], a, cache, pos)
    h = h + a
    m = block.mlp.apply(p["mlp"], {}, block.mlp_norm.apply(p["mlp_norm"], {}, h)[0])
    return h + m[0], cache


def _step(parts: TransformerLmParts, params, table, caches, token, pos):
    """Read `token` (1,) at `pos`; return the new caches and logits (1, V)."""
    h = parts.embed.apply(params["embed"], {}, token[None])[0]  # (1, 1, F)
    h = h + lax.dynamic_slice_in_dim(table, pos, 1)[None]  # + table[pos]
    new = []
    for i, (block, cache) in enumerate(zip(parts.blocks, caches, strict=True)):
        h, cache = _block_step(parts, block, params[f"block_{i}"], h, cache, pos)
        new.append(cache)
    h = parts.norm.apply(params["norm"], {}, h)[0]
    return tuple(new), parts.output.apply(params["output"], {}, h)[0][0]


def _empty_caches(parts: TransformerLmParts, params, steps: int):
    """Zero (keys, values) of shape (1, steps, H, D) for every block."""
    caches = []
    for i in range(len(parts.blocks)):
        weight = params[f"block_{i}"]["attention"]["key"]["weight"]  # (F, H * D)
        shape = (1, steps, parts.num_heads, weight.shape[1] // parts.num_heads)
        zeros = jnp.zeros(shape, weight.dtype)
        caches.append((zeros, zeros))
    return tuple(caches)


def check_fits(max_len: int, prime_len: int, length: int) -> None:
    """Raise unless the prime and the sample fit the model's `max_len` positions.

    Raises:
      ValueError: if `prime_len + length` > `max_len`.
    """
    if prime_len + length > max_len:
        raise _checks.value_error(
            "sample",
            f"len(prime) + `length` <= the model's max_len = {max_len}",
            f"{prime_len} + {length} = {prime_len + length}",
            f"sample at most {max(max_len - prime_len, 0)} characters after this "
            "prime, or train with a larger `model.max_len`",
        )


def make_sampler(
    parts: TransformerLmParts, length: int, *, model: Layer | None = None
) -> Sampler:
    """Build `sample(params, prime_ids, key, temperature) -> (length,) ids`.

    Each next id is drawn from softmax(logits / temperature), key i of
    `jr.split(key, length)` drawing id i.

    Args:
      parts: The model's `TransformerLmParts` (`transformer_lm_parts`).
      length: Number of ids to generate. Must be > 0.
      model: None (default) samples with the key/value cache. The whole
        `transformer_lm` Layer instead re-runs it over the prefix at every
        step (no cache): the reference, same key giving the same ids.

    Raises:
      ValueError: if `length` is not > 0, or (when sampling) the prime and
        `length` together exceed `parts.max_len` (see `check_fits`).
    """
    _checks.positive_int("make_sampler", "length", length)
    run = _with_cache if model is None else _without_cache(model)

    @jax.jit
    def jitted(params, prime_ids, key, temperature):
        return run(parts, params, prime_ids, jr.split(key, length), temperature)

    def sample(params, prime_ids, key, temperature):
        check_fits(parts.max_len, prime_ids.shape[0], length)
        return jitted(params, prime_ids, key, temperature)

    return sample


def _with_cache(parts, params, prime_ids, keys, temperature):
    prime = prime_ids.shape[0]
    steps = prime + keys.shape[0]  # every position read or sampled
    dtype = params["output"]["weight"].dtype
    table = _position_table(parts, params, steps, dtype)

    def feed(carry, pos):  # one scan (one compiled step) reads the prime, then samples
        caches, logits = carry
        drawn = jr.categorical(keys[jnp.maximum(pos - prime, 0)], logits / temperature)
        read = lax.dynamic_index_in_dim(prime_ids, jnp.minimum(pos, prime - 1))
        token = jnp.where(pos < prime, read, drawn)  # (1,)
        return _step(parts, params, table, caches, token, pos), token[0]

    logits = jnp.zeros((1, params["output"]["weight"].shape[1]), dtype)
    first = (_empty_caches(parts, params, steps), logits)
    return lax.scan(feed, first, jnp.arange(steps))[1][prime:]


def _without_cache(model: Layer):
    def run(parts, params, prime_ids, keys, temperature):
        del parts
        prime = prime_ids.shape[0]
        buffer = jnp.zeros(prime + keys.shape[0], prime_ids.dtype)
        buffer = lax.dynamic_update_slice(buffer, prime_ids, (0,))
        # The model's state tree: empty dicts, one per layer (no arrays in it).
        state = jax.eval_shape(model.init, jr.key(0), buffer[None])[1]

        def write(buffer, step):  # a causal model: the zeros after t change nothing
            step_key, t = step
            logits = model.apply(params, state, buffer[None])[0][0]  # (N, V)
            last = lax.dynamic_index_in_dim(logits, t - 1, keepdims=True)  # (1, V)
            token = jr.categorical(step_key, last / temperature, axis=-1)
            return lax.dynamic_update_slice(buffer, token, (t,)), token[0]

        _, ids = lax.scan(write, buffer, (keys, prime + jnp.arange(keys.shape[0])))
        return ids

    return run


def sample_text(
    model: LanguageModel,
    prime: str,
    *,
    key: jax.Array,
    length: int = 300,
    temperature: float = 1.0,
) -> str:
    """Continue `prime` with `length` sampled characters (the prime excluded).

    Raises:
      ValueError: if `prime` is empty or holds characters outside the model's
        vocabulary, `length` is not > 0, `temperature` is not > 0, or
        len(prime) + length exceeds the model's `max_len`.
    """
    return sample_with(make_sampler, model, prime, key, length, temperature)


def load_transformer_lm(path: str | Path) -> LanguageModel:
    """Restore a transformer LM from a run directory or checkpoint folder.

    Raises:
      FileNotFoundError: if `path` holds no checkpoint.
      ValueError: if the run is not a transformer LM (`model.kind =
        "transformer_lm"`).
    """
    return load_kind(path, "transformer_lm", parts_from_config)
