"""Fused steps: run a train step K times in one dispatch with `lax.scan`.

A small model's step is shorter than the host's work to dispatch it; scanning
K steps over batches stacked on a leading axis pays that cost once per K.
Whether it is faster depends on the backend and the model (on XLA:CPU a
convolution inside a loop runs far slower than outside one): measure with
`benchmarks/suite.py`.
"""

from collections.abc import Callable

import jax


def scan_steps(step: Callable, *, donate: bool = True) -> Callable:
    """Turn `step(state, batch) -> (state, metrics)` into one jitted K-step call.

    The returned `fused(state, batches) -> (state, metrics)` runs `step` once
    per entry of `batches`, a batch pytree whose leaves are stacked on a new
    leading axis of length K (e.g. `Batch(x[K, B, ...], y[K, B], mask[K, B])`),
    inside one `lax.scan`. It returns the state after the K steps and each
    metric stacked over the steps, shape (K, *metric shape). On CPU the
    state equals K separate calls of the jitted step bitwise (the same XLA
    computation runs as the loop body; `tests/train/test_fused.py`), for
    steps without convolutions: XLA:CPU compiles a convolution in a loop
    body differently, so their values differ in the last bits.

    Args:
      step: A pure train step, e.g. `make_train_step(...)`, jitted or not.
      donate: Donate the input state's buffers (as the per-step loop does):
        the `state` passed in must not be used afterwards. Default True.

    Shapes:
      batches: leaves (K, B, ...)  ->  metrics: leaves (K, ...)

    Example:
      >>> import jax.numpy as jnp, jax.random as jr, optax
      >>> from jnn.layers import dense
      >>> from jnn.train import Batch, create, make_train_step
      >>> mse = lambda y, t: jnp.mean((y - t) ** 2, axis=-1)
      >>> model, opt = dense(1), optax.sgd(0.1)
      >>> fused = scan_steps(make_train_step(model, mse, opt))
      >>> ts = create(model, opt, jr.key(0), jnp.zeros((4, 2)))
      >>> k_batches = Batch(jnp.ones((5, 4, 2)), jnp.ones((5, 4, 1)), jnp.ones((5, 4)))
      >>> ts, m = fused(ts, k_batches)
      >>> int(ts.step), m["loss"].shape
      (5, (5,))
    """

    def fused(state, batches):
        return jax.lax.scan(step, state, batches)

    return jax.jit(fused, donate_argnums=0 if donate else ())
