"""Generator and discriminator builders: MLP pairs and DCGAN-style conv pairs.

Every builder returns a plain `Layer`. Generators map noise (B, latent_dim) to
samples (B, *x_shape); discriminators map samples to one logit each, (B, 1).
"""

import math
from collections.abc import Sequence

from jnn import _checks, initializers
from jnn._types import Layer
from jnn.layers import activation, conv, conv_transpose, dense, flatten, named

ARCHITECTURES = ("mlp", "dcgan")  # dense stacks | conv_transpose / conv pairs


def reshape(shape: Sequence[int]) -> Layer:
    """Reshape the features of each example: (B, F) -> (B, *shape).

    Shapes:
      x: (B, F) with F = prod(shape)  ->  y: (B, *shape)

    Params:
      none

    State:
      none
    """
    shape = tuple(shape)

    def init(key, x_spec):
        del key
        if math.prod(x_spec.shape[1:]) != math.prod(shape):
            raise _checks.value_error(
                "reshape", f"{math.prod(shape)} features per example", x_spec.shape
            )
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return x.reshape(x.shape[0], *shape), state

    return Layer(init, apply, "reshape")


def _act(name: str) -> Layer:
    # Leaky ReLU's slope 0.2 is the DCGAN paper's, far from jax's 0.01 default.
    return (
        activation(name, negative_slope=0.2)
        if name == "leaky_relu"
        else activation(name)
    )


def mlp_generator(
    x_shape: Sequence[int],
    hidden: Sequence[int] = (128, 128),
    *,
    act: str = "relu",
    output: str = "identity",
) -> Layer:
    """Build dense stack -> dense(prod(x_shape)) -> `output` -> reshape.

    Use `output="tanh"` for images scaled to [-1, 1] and "identity" for
    unbounded data such as the ring.

    Shapes:
      z: (B, latent_dim)  ->  x: (B, *x_shape)
    """
    layers = _dense_stack(hidden, act, "he_normal")
    layers["output"] = dense(math.prod(x_shape), w_init=initializers.glorot_uniform())
    layers["output_act"] = activation(output)
    layers["reshape"] = reshape(x_shape)
    return named(**layers)


def mlp_discriminator(hidden: Sequence[int] = (128, 128), *, act="leaky_relu"):
    """Build flatten -> dense stack -> dense(1): one logit per example.

    Shapes:
      x: (B, *D)  ->  logits: (B, 1)
    """
    layers = {"flatten": flatten(), **_dense_stack(hidden, act, "he_normal")}
    layers["output"] = dense(1, w_init=initializers.glorot_uniform())
    return named(**layers)


def _dense_stack(hidden: Sequence[int], act: str, w_init: str) -> dict[str, Layer]:
    layers = {}
    for i, width in enumerate(hidden):
        _checks.positive_int("gan model", f"hidden[{i}]", width)
        layers[f"hidden_{i}"] = dense(width, w_init=initializers.get(w_init))
        layers[f"act_{i}"] = _act(act)
    return layers


def dcgan_generator(
    x_shape: Sequence[int], channels: Sequence[int] = (64, 32), *, act: str = "relu"
) -> Layer:
    """Build dense -> reshape -> [conv_transpose stride 2 -> act] * n -> conv -> tanh.

    With n = len(channels) upsamplings, the dense layer makes a
    (H / 2^n, W / 2^n, channels[0]) map; upsampling i outputs channels[i];
    a 3x3 conv maps to the image channels.

    Shapes:
      z: (B, latent_dim)  ->  x: (B, H, W, C) with x_shape = (H, W, C)

    Raises:
      ValueError: if H or W is not divisible by 2^n.
    """
    height, width, out_channels = x_shape
    scale = 2 ** len(channels)
    if height % scale or width % scale:
        raise _checks.value_error(
            "dcgan_generator",
            f"image sides divisible by 2^len(channels) = {scale}",
            f"{height}x{width}",
            "use fewer `gan.g_channels`",
        )
    base = (height // scale, width // scale, channels[0])
    layers = {"project": dense(math.prod(base)), "reshape": reshape(base)}
    layers["project_act"] = _act(act)
    for i, c in enumerate(channels):
        layers[f"up_{i}"] = conv_transpose(c, (4, 4), stride=2)
        layers[f"act_{i}"] = _act(act)
    layers["output"] = conv(out_channels, (3, 3))
    layers["output_act"] = activation("tanh")
    return named(**layers)


def dcgan_discriminator(channels: Sequence[int] = (32, 64), *, act="leaky_relu"):
    """Build [conv 4x4 stride 2 -> act] per channel count -> flatten -> dense(1).

    Shapes:
      x: (B, H, W, C)  ->  logits: (B, 1)
    """
    layers = {}
    for i, c in enumerate(channels):
        layers[f"conv_{i}"] = conv(c, (4, 4), stride=2)
        layers[f"act_{i}"] = _act(act)
    layers["flatten"] = flatten()
    layers["output"] = dense(1, w_init=initializers.glorot_uniform())
    return named(**layers)


def from_config(gan_cfg, x_shape: Sequence[int]) -> tuple[Layer, Layer]:
    """Return `(generator, discriminator)` for a `jnn.gan.config.GanConfig`.

    Images (rank-3 `x_shape`) get a tanh output, matching data in [-1, 1];
    vectors (the ring) an identity output. "dcgan" needs images.

    Raises:
      ValueError: for "dcgan" on non-image data, or an unknown architecture.
    """
    x_shape = tuple(x_shape)
    is_image = len(x_shape) == 3
    arch = _checks.one_of(
        "gan", "gan.architecture", gan_cfg.architecture, ARCHITECTURES
    )
    if arch == "mlp":
        output = "tanh" if is_image else "identity"
        g = mlp_generator(
            x_shape, gan_cfg.g_hidden, act=gan_cfg.g_activation, output=output
        )
        return g, mlp_discriminator(gan_cfg.d_hidden, act=gan_cfg.d_activation)
    if not is_image:
        raise _checks.value_error(
            "gan",
            "image data (H, W, C) for `gan.architecture` 'dcgan'",
            f"samples of shape {x_shape}",
            "use gan.architecture = 'mlp'",
        )
    g = dcgan_generator(x_shape, gan_cfg.g_channels, act=gan_cfg.g_activation)
    return g, dcgan_discriminator(gan_cfg.d_channels, act=gan_cfg.d_activation)
