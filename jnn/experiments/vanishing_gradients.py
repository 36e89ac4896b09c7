"""The vanishing-gradient experiment: four 20-layer networks trained side by side.

1. sigmoid with the naive init U[-1/sqrt(n), 1/sqrt(n)] of pre-2010 practice:
   each layer scales the backward signal by ~0.25 * 0.58, so it vanishes;
2. ReLU with He init;
3. ReLU with batch norm after every dense layer;
4. ReLU with residual connections (each hidden layer adds to its input).

Each is trained with SGD with momentum on the same digits batches. SGD, not
Adam: its update is proportional to the gradient, so a vanished gradient means
a frozen layer, while Adam's per-parameter scaling would hide the effect. The
per-layer weight-gradient norms are averaged over the run and reported with
the first-to-last-layer ratio, plus dead / saturated unit fractions.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import data, initializers, losses
from jnn._types import Layer
from jnn.data.config import DigitsConfig
from jnn.diagnostics import gradient_flow
from jnn.layers import activation, batch_norm, dense, flatten, named, residual
from jnn.train.state import create
from jnn.train.step import Batch, masked_mean

DEPTH = 20  # weight layers per network, output layer included
WIDTH = 64


def _plain(act: str, w_init) -> dict[str, Layer]:
    layers = {"flatten": flatten()}
    for i in range(DEPTH - 1):
        layers[f"layer_{i}"] = dense(WIDTH, w_init=w_init)
        layers[f"act_{i}"] = activation(act)
    return layers


def _batch_norm() -> dict[str, Layer]:
    layers = {"flatten": flatten()}
    for i in range(DEPTH - 1):
        layers[f"layer_{i}"] = dense(
            WIDTH, use_bias=False, w_init=initializers.he_normal()
        )
        layers[f"norm_{i}"] = batch_norm()
        layers[f"act_{i}"] = activation("relu")
    return layers


def _residual() -> dict[str, Layer]:
    # Branches start small (scaled by 1/sqrt(depth)) so the sum of 18 skips
    # keeps activations' scale, the Fixup idea; the skips carry the gradient.
    branch_init = initializers.variance_scaling(2.0 / (DEPTH - 2), "fan_in", "normal")
    layers = {"flatten": flatten()}
    layers["layer_0"] = dense(WIDTH, w_init=initializers.he_normal())
    layers["act_0"] = activation("relu")
    for i in range(1, DEPTH - 1):
        branch = named(layer=dense(WIDTH, w_init=branch_init), act=activation("relu"))
        layers[f"block_{i}"] = residual(branch)
    return layers


NETWORKS: dict[str, Callable[[], dict[str, Layer]]] = {
    "sigmoid_naive_init": lambda: _plain("sigmoid", initializers.uniform(WIDTH**-0.5)),
    "relu_he_init": lambda: _plain("relu", initializers.he_normal()),
    "relu_batch_norm": _batch_norm,
    "relu_residual": _residual,
}
KINDS = {"sigmoid_naive_init": "sigmoid"}  # others use ReLU


def build(name: str) -> tuple[dict[str, Layer], Layer]:
    """Return (hidden layers by name, full model with a 10-way output)."""
    hidden = NETWORKS[name]()
    return hidden, named(**hidden, output=dense(10))


def _train_step(model: Layer, optimizer):
    def loss(params, state, batch):
        out, state = model.apply(params, state, batch.x, train=True)
        per_example = losses.sparse_softmax_cross_entropy(out, batch.y)
        return masked_mean(per_example, batch.mask), state

    @jax.jit
    def step(ts, batch):
        (value, state), grads = jax.value_and_grad(loss, has_aux=True)(
            ts.params, ts.state, batch
        )
        updates, opt_state = optimizer.update(grads, ts.opt_state, ts.params)
        params = optax.apply_updates(ts.params, updates)
        new = ts._replace(
            step=ts.step + 1, params=params, state=state, opt_state=opt_state
        )
        return new, value, grads

    return step


def _digits(seed: int) -> tuple[np.ndarray, np.ndarray]:
    cfg = DigitsConfig(val_fraction=0.0, test_fraction=0.2, seed=seed)
    train = data.load(cfg).train
    return train.x, train.y


def _batches(n: int, batch_size: int, steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(n, batch_size, replace=False) for _ in range(steps)])


def _unit_health(name: str, hidden, ts, x) -> dict[str, float]:
    outputs = gradient_flow.layer_outputs(hidden, ts.params, ts.state, x)
    acts = {k: v for k, v in outputs.items() if k.startswith("act_")}
    if name in KINDS:
        fracs = [
            gradient_flow.saturated_fraction(y, KINDS[name]) for y in acts.values()
        ]
        return {"saturated_fraction": fracs}
    return {"dead_fraction": [gradient_flow.dead_fraction(y) for y in acts.values()]}


def run_network(name: str, x, y, batches: np.ndarray, *, lr: float, seed: int) -> dict:
    """Train one network on the given batches; return its gradient-flow record."""
    from jnn.train import optim

    hidden, model = build(name)
    cfg = optim.OptimConfig(name="sgd", lr=lr, momentum=0.9)
    optimizer = optim.build(cfg, len(batches))
    ts = create(model, optimizer, jax.random.key(seed), jnp.asarray(x[batches[0]]))
    step = _train_step(model, optimizer)
    mask = np.ones(batches.shape[1], np.float32)
    first, total, loss = None, None, None
    for idx in batches:
        ts, loss, grads = step(ts, Batch(x[idx], y[idx], mask))
        norms = np.array(list(gradient_flow.weight_gradient_norms(grads).values()))
        first = norms if first is None else first
        total = norms if total is None else total + norms
    mean = total / len(batches)
    return {
        "grad_norm_mean": mean.tolist(),
        "grad_norm_first_step": first.tolist(),
        "first_over_last": float(mean[0] / mean[-1]),
        "max_over_min": float(mean.max() / mean.min()),
        "final_batch_loss": float(loss),
        **_unit_health(name, hidden, ts, x[batches[-1]]),
    }


def run(
    steps: int = 300, batch_size: int = 64, lr: float = 1e-2, seed: int = 0
) -> dict:
    """Run all four networks on identical batches; return the JSON-able report."""
    x, y = _digits(seed)
    batches = _batches(len(x), batch_size, steps, seed)
    report = {"depth": DEPTH, "width": WIDTH, "steps": steps, "batch_size": batch_size}
    report |= {"optimizer": "sgd, momentum 0.9", "lr": lr, "networks": {}}
    for name in NETWORKS:
        report["networks"][name] = run_network(name, x, y, batches, lr=lr, seed=seed)
    return report


def plot(report: dict, path) -> None:
    """Write a log-scale PNG of mean gradient norm by layer depth per network.

    Raises:
      ImportError: if matplotlib is not installed (`jnn.diagnostics.plot.new_figure`).
    """
    from jnn.diagnostics.plot import new_figure  # matplotlib is optional: import on use

    fig = new_figure(figsize=(8, 5), dpi=120)
    ax = fig.subplots()
    for name, record in report["networks"].items():
        norms = record["grad_norm_mean"]
        label = f"{name} (first/last = {record['first_over_last']:.2g})"
        ax.plot(range(1, len(norms) + 1), norms, marker="o", markersize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel(f"layer depth (1 = input side, {report['depth']} = output layer)")
    ax.set_ylabel("mean gradient norm of the layer's weight (log scale)")
    depth, steps = report["depth"], report["steps"]
    ax.set_title(f"Gradient flow in {depth}-layer nets: mean over {steps} SGD steps")
    ax.set_xticks(range(1, depth + 1))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
