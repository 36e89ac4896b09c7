"""Quality measures of generated samples, computed by the run (not eyeballed).

Ring: `ring_quality` counts covered modes and high-quality samples. Images: a
jnn classifier trained on the real data judges the samples (`train_classifier`
then `classifier_quality`), an inception-score-like check that samples are
both confident (mean max-probability) and diverse (class-histogram entropy).
"""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import losses, models
from jnn.gan.data import ring_centres

# A mode is covered when at least this share of the samples a perfect
# generator would put there (1/8 of all) lies within 3 std of its centre:
# 1,000 samples -> >= 25 (2.5%) of them. One stray sample is not coverage.
MIN_MODE_SHARE = 0.2
HIGH_QUALITY_STDS = 3.0


def ring_quality(
    samples: np.ndarray,
    *,
    radius: float,
    std: float,
    min_mode_share: float = MIN_MODE_SHARE,
) -> dict:
    """Measure generated ring samples (N, 2) against the 8 true modes.

    A sample is high quality when it lies within 3 std of its nearest mode
    centre (98.9% of real 2-D Gaussian samples do). A mode is covered when it has at least `min_mode_share * N / 8`
    high-quality samples.

    Returns:
      {"modes": covered modes (0-8), "high_quality": fraction in [0, 1]}.

    Example:
      >>> from jnn.gan.data import ring
      >>> ring_quality(ring(800, seed=0), radius=2.0, std=0.02)  # real data
      {'modes': 8, 'high_quality': 0.99375}
    """
    samples = np.asarray(samples, np.float64)
    centres = ring_centres(radius).astype(np.float64)
    dist = np.linalg.norm(samples[:, None, :] - centres[None], axis=-1)  # (N, 8)
    nearest, close = dist.argmin(1), dist.min(1) <= HIGH_QUALITY_STDS * std
    counts = np.bincount(nearest[close], minlength=len(centres))
    needed = min_mode_share * len(samples) / len(centres)
    return {
        "modes": int(np.sum(counts >= needed)),
        "high_quality": float(np.mean(close)),
    }


def train_classifier(
    x: np.ndarray, y: np.ndarray, *, key: jax.Array, steps: int = 200
) -> tuple[Callable[[jax.Array], jax.Array], float]:
    """Train a small jnn MLP classifier on real images; return (probs_fn, acc).

    Full-batch adam for `steps` steps on up to 10,000 examples (seconds on a
    CPU), holding out every 5th one: `acc` is the held-out accuracy, which
    shows the judge is competent before it judges generated samples.
    """
    x, y = np.asarray(x[:10_000]), np.asarray(y[:10_000])
    held_out = np.arange(len(x)) % 5 == 0
    x_train, y_train = jnp.asarray(x[~held_out]), jnp.asarray(y[~held_out])
    model = models.mlp((256,), int(y.max()) + 1, act="relu")
    optimizer = optax.adam(1e-2)

    def loss_fn(p, state, images, labels):
        logits, _ = model.apply(p, state, images)
        return jnp.mean(losses.sparse_softmax_cross_entropy(logits, labels))

    @jax.jit
    def train(key, images, labels):  # one compile for init and all steps
        params, state = model.init(key, images)

        def body(carry, _):
            p, opt = carry
            grads = jax.grad(loss_fn)(p, state, images, labels)
            with jax.numpy_dtype_promotion("standard"):
                updates, opt = optimizer.update(grads, opt, p)
            return (optax.apply_updates(p, updates), opt), None

        init = (params, optimizer.init(params))
        (params, _), _ = jax.lax.scan(body, init, None, steps)
        return params, state

    params, state = train(key, x_train, y_train)
    apply = jax.jit(lambda p, s, images: jax.nn.softmax(model.apply(p, s, images)[0]))

    def probs(images):
        return apply(params, state, images)

    predicted = np.asarray(probs(jnp.asarray(x[held_out]))).argmax(-1)
    return probs, float(np.mean(predicted == y[held_out]))


def classifier_quality(probs: np.ndarray) -> dict:
    """Summarise a classifier's probabilities (N, K) for generated samples.

    Returns:
      {"confidence": mean max-probability, "entropy": entropy (nats) of the
      predicted-class histogram (log K when all classes are equally common),
      "entropy_ratio": entropy / log K}.

    Example:
      >>> classifier_quality(np.eye(4))
      {'confidence': 1.0, 'entropy': 1.3862943611198906, 'entropy_ratio': 1.0}
    """
    probs = np.asarray(probs, np.float64)
    k = probs.shape[1]
    hist = np.bincount(probs.argmax(1), minlength=k) / len(probs)
    entropy = float(-np.sum(hist[hist > 0] * np.log(hist[hist > 0])))
    return {
        "confidence": float(np.mean(probs.max(1))),
        "entropy": entropy,
        "entropy_ratio": entropy / math.log(k),
    }
