"""Generate text from a trained character model (`model.kind = "rnn_lm"`).

The model runs one step at a time with explicit carries, so generating L
characters costs L cell steps (not L full passes over a growing prefix): the
prime is read with one `lax.scan`, then a second `lax.scan` feeds each sampled
character back in. Both are inside one `jit`; the PRNG key alone decides the
sample. Keep one `make_sampler` result to reuse its compilation: the
temperature is a traced argument (changing it never recompiles; a new prime
length does).
"""

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
from jax import lax

from jnn import _checks
from jnn.data import text
from jnn.models.sequence import LanguageModelParts, language_model_parts

Sampler = Callable[..., jax.Array]  # (params, prime_ids, key, temperature) -> ids


class LanguageModel(NamedTuple):
    """A restored character model: everything `sample_text` needs."""

    params: dict  # the model's params {"embed", "rnn_0", ..., "output"}
    # its layers and cells, for one step at a time; a transformer LM's are
    # `TransformerLmParts` (`jnn.generation.transformer_lm`)
    parts: LanguageModelParts
    vocab: str  # token id i is character vocab[i]
    config: object  # the run's resolved `jnn.config.Config`


def check_temperature(temperature) -> float:
    """Return `temperature` as a float, or raise unless it is finite and > 0.

    Raises:
      ValueError: if `temperature` is not finite and > 0.
      TypeError: if it is not a number.
    """
    value = _checks.finite_float("sample", "temperature", temperature)
    if value <= 0:
        raise _checks.value_error(
            "sample",
            "`temperature` > 0",
            repr(temperature),
            "use a small value such as 1e-3 for (near-)greedy argmax decoding",
        )
    return value


def check_prime(prime: str, vocab: str):
    """Return the ids of `prime`, or raise unless it is non-empty and in `vocab`.

    Raises:
      ValueError: if `prime` is empty or holds characters outside `vocab`.
    """
    if not prime:
        raise _checks.value_error(
            "sample", "a non-empty `prime`", "''", 'start from a character, e.g. "T"'
        )
    return text.encode(prime, vocab)


def _step(parts: LanguageModelParts, params, carries, token):
    """One character in, next-character logits out: (B,) int -> (B, V)."""
    h, _ = parts.embed.apply(params["embed"], {}, token)  # (B,) -> (B, E)
    new = []
    for i, (cell, carry) in enumerate(zip(parts.cells, carries, strict=True)):
        carry, h = cell.apply(params[f"rnn_{i}"], carry, h)
        new.append(carry)
    logits, _ = parts.output.apply(params["output"], {}, h)
    return tuple(new), logits


def make_sampler(parts: LanguageModelParts, length: int) -> Sampler:
    """Build a jitted `sample(params, prime_ids, key, temperature) -> (length,)`.

    Each next id is drawn from softmax(logits / temperature): 1 samples the
    model's distribution, lower is more conservative, and as temperature -> 0
    the draw becomes the argmax (greedy decoding).

    Args:
      parts: The model's `LanguageModelParts` (`language_model_parts`).
      length: Number of ids to generate. Must be > 0.

    Raises:
      ValueError: if `length` is not > 0.
    """
    _checks.positive_int("make_sampler", "length", length)

    def sample(params, prime_ids, key, temperature):
        dtype = params["output"]["weight"].dtype
        carries = tuple(c.initial_carry(1, dtype) for c in parts.cells)

        def read(carries, token):
            carries, logits = _step(parts, params, carries, token.reshape(1))
            return carries, logits

        carries, logits = lax.scan(read, carries, prime_ids)  # logits (P, 1, V)

        def write(state, step_key):
            carries, logits = state
            token = jr.categorical(step_key, logits / temperature, axis=-1)  # (1,)
            return _step(parts, params, carries, token), token[0]

        _, ids = lax.scan(write, (carries, logits[-1]), jr.split(key, length))
        return ids

    return jax.jit(sample)


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
      ValueError: if `prime` is empty or holds characters outside the
        model's vocabulary, `length` is not > 0, or `temperature` is not > 0.
    """
    return sample_with(make_sampler, model, prime, key, length, temperature)


def sample_with(make, model: LanguageModel, prime: str, key, length, temperature):
    """`prime`'s continuation by the sampler `make(model.parts, length)`
    builds (checked arguments in, decoded text out); any token model's."""
    temperature = check_temperature(temperature)
    prime_ids = jnp.asarray(check_prime(prime, model.vocab))
    ids = make(model.parts, length)(model.params, prime_ids, key, temperature)
    return text.decode(ids, model.vocab)


def load_language_model(path: str | Path) -> LanguageModel:
    """Restore a character model from a run directory or checkpoint folder.

    `jnn.load_run` reads the params and the vocabulary saved with the run
    (the corpus is not read again); the saved config rebuilds the cells.

    Raises:
      FileNotFoundError: if `path` holds no checkpoint.
      ValueError: if the run is not a character model (`model.kind =
        "rnn_lm"`).
    """

    def parts_of(cfg, vocab_size: int) -> LanguageModelParts:
        return language_model_parts(
            vocab_size,
            cell=cfg.cell,
            hidden=cfg.hidden,
            embed_features=cfg.embed_features,
        )

    return load_kind(path, "rnn_lm", parts_of)


def load_kind(path: str | Path, kind: str, parts_of) -> LanguageModel:
    """Restore a token model of `model.kind` = `kind` from a run; its parts
    are `parts_of(model_config, vocab_size)`; any token model's loader.

    Raises:
      FileNotFoundError: if `path` holds no checkpoint.
      ValueError: if the run's `model.kind` is not `kind`.
    """
    from jnn.runs.restore import load_run  # lazy: the training stack

    run = load_run(path)
    found = getattr(getattr(run.config, "model", None), "kind", None)
    _checks.one_of(f"{run.checkpoint}", "model.kind", found, (kind,))
    parts = parts_of(run.config.model, len(run.vocab))
    return LanguageModel(run.params, parts, run.vocab, run.config)
