"""The suite's DCGAN workload: configs/gan_mnist.toml's step, hand-written and jnn's.

The model sizes, batch, noise and optimizers are read from the config
itself, so the row follows the config. One step is one discriminator update
(real and generated batches, the non-saturating loss) and one generator
update with fresh noise, Adam on both; the real batch is drawn on the device
from `DATA` random images in [-1, 1], by index, as the GAN task draws it.

- `jax`: the hand-written step other JAX libraries' layers amount to:
  `lax.conv_transpose` upsampling and strided `lax.conv_general_dilated`
  (the same function as jnn's models: `tests/test_benchmark_workloads.py`),
  `optax.adam` from the config's numbers, jitted with everything donated.
- `bare`: `jax.jit(jnn.gan.make_step(...), donate_argnums=0)` without the
  non-finite guard, as research code would call it.
- `fit`: the step as the GAN task builds it (`jnn.gan.task.build`, the
  guard on, the config's optimizers).
- `loop`: that step in the engine's host loop (`jnn.runs.loop.run_epoch`
  over the task's own plan), one step per dispatch as the default chooses on
  a CPU; `loop_fused`: K steps per dispatch (slow on a CPU: convolutions in
  a loop).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import variants
from jax import lax
from workloads import Workload

from jnn import config as config_lib
from jnn.gan import task
from jnn.gan.step import make_step, params_tree

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "gan_mnist.toml"
X_SHAPE = (28, 28, 1)  # MNIST's
DATA = 1024  # real images kept on the device
DIMS = ("NHWC", "HWIO", "NHWC")
NAMES = ("jax", "bare", "fit", "loop", "loop_fused")


def config(overrides=()):
    """The DCGAN config; its data section is not read (the data is random)."""
    return config_lib.load(CONFIG, list(overrides))


def _normal(key, shape, fan_in):
    return jr.normal(key, shape, jnp.float32) / np.sqrt(fan_in).astype(np.float32)


def hand_init(cfg, key) -> dict:
    """{"g": ..., "d": ...}: plain dicts of weights (HWIO kernels) and biases."""
    g_ch, d_ch = cfg.gan.g_channels, cfg.gan.d_channels
    side = X_SHAPE[0] // 2 ** len(g_ch)
    keys = iter(jr.split(key, 16))
    g = {
        "project_w": _normal(
            next(keys), (cfg.gan.latent_dim, side * side * g_ch[0]), cfg.gan.latent_dim
        )
    }
    g["project_b"] = jnp.zeros(side * side * g_ch[0])
    for i, (c_in, c_out) in enumerate(zip(g_ch[:1] + g_ch[:-1], g_ch, strict=True)):
        g[f"up{i}_w"] = _normal(next(keys), (4, 4, c_in, c_out), 16 * c_in)
        g[f"up{i}_b"] = jnp.zeros(c_out)
    g["out_w"] = _normal(next(keys), (3, 3, g_ch[-1], X_SHAPE[-1]), 9 * g_ch[-1])
    g["out_b"] = jnp.zeros(X_SHAPE[-1])
    d = {}
    for i, (c_in, c_out) in enumerate(
        zip((X_SHAPE[-1], *d_ch[:-1]), d_ch, strict=True)
    ):
        d[f"conv{i}_w"] = _normal(next(keys), (4, 4, c_in, c_out), 16 * c_in)
        d[f"conv{i}_b"] = jnp.zeros(c_out)
    side = X_SHAPE[0] // 2 ** len(d_ch)
    d["out_w"] = _normal(
        next(keys), (side * side * d_ch[-1], 1), side * side * d_ch[-1]
    )
    d["out_b"] = jnp.zeros(1)
    return {"g": g, "d": d}


def generate(g, z):
    """Dense -> reshape -> relu -> [4x4 stride-2 conv_transpose, relu]* -> 3x3 conv -> tanh."""
    ups = len([k for k in g if k.startswith("up") and k.endswith("_w")])
    side = X_SHAPE[0] // 2**ups
    h = (z @ g["project_w"] + g["project_b"]).reshape(z.shape[0], side, side, -1)
    h = jax.nn.relu(h)
    for i in range(ups):
        h = lax.conv_transpose(h, g[f"up{i}_w"], (2, 2), "SAME", dimension_numbers=DIMS)
        h = jax.nn.relu(h + g[f"up{i}_b"])
    h = lax.conv_general_dilated(h, g["out_w"], (1, 1), "SAME", dimension_numbers=DIMS)
    return jnp.tanh(h + g["out_b"])


def discriminate(d, x):
    """[4x4 stride-2 conv, leaky relu 0.2]* -> flatten -> dense(1)."""
    for i in range(len(d) // 2 - 1):
        x = lax.conv_general_dilated(
            x, d[f"conv{i}_w"], (2, 2), "SAME", dimension_numbers=DIMS
        )
        x = jax.nn.leaky_relu(x + d[f"conv{i}_b"], 0.2)
    return x.reshape(x.shape[0], -1) @ d["out_w"] + d["out_b"]


def _adam(section) -> optax.GradientTransformation:
    return optax.adam(section.lr, b1=section.b1, b2=section.b2, eps=section.eps)


def hand_step(cfg):
    """`(params, opt_states, step, data, key) -> (params, opt_states, step, losses)`."""
    batch, latent = cfg.train.batch_size, cfg.gan.latent_dim
    g_opt, d_opt = _adam(cfg.optim.generator), _adam(cfg.optim.discriminator)

    def step(params, opt_states, count, data, base_key):
        z1_key, index_key, z2_key = jr.split(jr.fold_in(base_key, count), 3)
        real = data[jr.randint(index_key, (batch,), 0, data.shape[0])]
        fake = generate(params["g"], jr.normal(z1_key, (batch, latent)))
        fake = lax.stop_gradient(fake)

        def d_loss(d):
            logits = discriminate(d, jnp.concatenate([real, fake]))
            return jnp.mean(
                jax.nn.softplus(-logits[:batch]) + jax.nn.softplus(logits[batch:])
            )

        d_value, d_grads = jax.value_and_grad(d_loss)(params["d"])
        updates, d_state = d_opt.update(d_grads, opt_states["d"], params["d"])
        d = optax.apply_updates(params["d"], updates)

        def g_loss(g):
            fake = generate(g, jr.normal(z2_key, (batch, latent)))
            return jnp.mean(jax.nn.softplus(-discriminate(d, fake)))

        g_value, g_grads = jax.value_and_grad(g_loss)(params["g"])
        updates, g_state = g_opt.update(g_grads, opt_states["g"], params["g"])
        g = optax.apply_updates(params["g"], updates)
        states = {"g": g_state, "d": d_state}
        return {"g": g, "d": d}, states, count + 1, (d_value, g_value)

    return step, {"g": g_opt, "d": d_opt}


def _hand_start(cfg):
    """The hand-written step and its first (params, opt_states)."""
    step, opts = hand_step(cfg)
    params = hand_init(cfg, jr.key(0))
    return step, params, {k: opts[k].init(params[k]) for k in params}


def _hand(cfg, data):
    step, params, opt_states = _hand_start(cfg)
    step = jax.jit(step, donate_argnums=(0, 1, 2))
    count, key = jnp.zeros((), jnp.int32), jr.key(1)

    def run(k):
        nonlocal params, opt_states, count
        for _ in range(k):
            params, opt_states, count, values = step(
                params, opt_states, count, data, key
            )
        jax.block_until_ready((params, opt_states, values))

    return run


def build(steps: int, names) -> dict:
    """`{name: run}` for the variants in `names`, each `steps` steps per round."""
    cfg = config([f"train.eval_every={steps}", f"train.steps={1 << 30}"])
    rng = np.random.default_rng(0)
    data = jnp.asarray(rng.uniform(-1, 1, (DATA, *X_SHAPE)).astype(np.float32))
    run = task.build(cfg, X_SHAPE)
    runs = {}
    for name in names:
        if name == "jax":
            hand = _hand(cfg, data)
            runs[name] = lambda hand=hand: hand(steps)
            continue
        options = run.options
        if name == "bare":
            options = options._replace(guard_nonfinite=False)
        step = jax.jit(make_step(*run[:4], options), donate_argnums=0)
        gs = task.initial_state(run, cfg.train.seed)
        if name in ("bare", "fit"):
            runs[name] = variants._per_step(step, gs, [data] * steps)
        else:
            fuse = steps if name == "loop_fused" else 1
            plan = task.plan(cfg, data)
            runs[name] = variants._loop(
                step, gs, None, plan, fuse_steps=fuse, params_of=params_tree
            )
    return runs


def step_flops(cfg=None) -> float | None:
    """FLOPs of one hand-written step, from XLA's cost analysis."""
    step, params, opt_states = _hand_start(cfg or config())
    data = jnp.zeros((DATA, *X_SHAPE), jnp.float32)
    args = (params, opt_states, jnp.zeros((), jnp.int32), data, jr.key(1))
    try:
        cost = jax.jit(step).lower(*args).compile().cost_analysis()
    except Exception:  # not every backend reports costs
        return None
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost["flops"]) if cost and "flops" in cost else None


_CFG = config()
WORKLOAD = Workload(
    "dcgan",
    "DCGAN of configs/gan_mnist.toml (G {}, D {} on 28x28), batch {}".format(
        "-".join(map(str, _CFG.gan.g_channels)),
        "-".join(map(str, _CFG.gan.d_channels)),
        _CFG.train.batch_size,
    ),
    _CFG.train.batch_size,
    X_SHAPE,
    None,  # model, init, forward: a GAN's come from `build`
    None,
    None,
    2,
    slow_on_cpu=("loop_fused",),
    build=build,
    flops=step_flops,
    variants=NAMES,
)
