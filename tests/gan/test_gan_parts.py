"""GAN data, models, quality measures and the PNG writer."""

import builtins
import struct
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.data.config import DigitsConfig, SyntheticConfig
from jnn.gan import curves, data, models, png, quality
from jnn.gan.config import GanConfig, GanDigitsConfig, GanMnistConfig


def test_ring_is_seeded_and_centred_on_the_modes():
    a, b = (
        data.ring(400, radius=3.0, std=0.1, seed=5),
        data.ring(400, radius=3.0, std=0.1, seed=5),
    )
    np.testing.assert_array_equal(a, b)
    assert a.shape == (400, 2) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1).mean(), 3.0, atol=0.05)
    centres = data.ring_centres(3.0)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 3.0, rtol=1e-6)
    with pytest.raises(ValueError, match="`std` > 0"):
        data.ring(10, std=0.0)


def test_digits_are_scaled_to_unit_range():
    real = data.load(GanDigitsConfig())
    assert real.x.shape == (1797, 8, 8, 1)
    assert real.x.min() == -1.0 and real.x.max() == 1.0
    with pytest.raises(ValueError, match=r"`data\.name` to be one of"):
        data.load(SyntheticConfig(name="moons"))
    with pytest.raises(TypeError, match=r"to be a GanDigitsConfig, got DigitsConfig"):
        data.load(DigitsConfig())
    with pytest.raises(ValueError, match=r"`data\.dir` naming a directory"):
        data.load(GanMnistConfig())


def test_ring_quality_counts_modes_and_high_quality_samples():
    centres = data.ring_centres(2.0)
    # 30 samples on each of 3 modes, 10 far away: 3 modes, 90% high quality.
    good = np.repeat(centres[:3], 30, axis=0) + 0.01
    samples = np.concatenate([good, np.full((10, 2), 5.0)])
    assert quality.ring_quality(samples, radius=2.0, std=0.02) == {
        "modes": 3,
        "high_quality": 0.9,
    }
    # A mode needs min_mode_share * N / 8 = 0.2 * 100 / 8 = 2.5 -> 3 samples.
    few = np.concatenate([good[:2], np.full((98, 2), 5.0)])
    assert quality.ring_quality(few, radius=2.0, std=0.02)["modes"] == 0


def test_classifier_quality_hand_values():
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    got = quality.classifier_quality(probs)
    want_entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    np.testing.assert_allclose(got["confidence"], 0.75)
    np.testing.assert_allclose(got["entropy"], want_entropy)
    np.testing.assert_allclose(got["entropy_ratio"], want_entropy / np.log(2))


def _decode_png(blob: bytes) -> np.ndarray:
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _, colour = struct.unpack(">IIBB", blob[16:26])
    (length,) = struct.unpack(">I", blob[33:37])
    assert blob[37:41] == b"IDAT"
    raw = np.frombuffer(zlib.decompress(blob[41 : 41 + length]), np.uint8)
    channels = 3 if colour == 2 else 1
    rows = raw.reshape(height, 1 + width * channels)
    assert not rows[:, 0].any()  # filter 0 on every row
    return rows[:, 1:].reshape(height, width, channels).squeeze()


@pytest.mark.parametrize("shape", [(3, 5), (4, 2, 3)])
def test_png_round_trips(shape):
    image = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    np.testing.assert_array_equal(_decode_png(png.encode_png(image)), image)


def test_png_rejects_floats_and_grid_layout():
    with pytest.raises(ValueError, match="a uint8 image"):
        png.encode_png(np.zeros((2, 2)))
    tiles = np.stack([np.full((2, 2, 1), v) for v in (-1.0, 1.0, 0.0)])
    grid = png.image_grid(tiles, columns=2, pad=1, scale=1)
    assert grid.shape == (7, 7)
    assert grid[1, 1] == 0 and grid[1, 4] == 255 and grid[4, 1] == 127
    assert png.scatter_image(np.zeros((3, 2)), extent=1.0, size=50).shape == (50, 50, 3)


@pytest.mark.parametrize(
    ("arch", "x_shape"), [("mlp", (2,)), ("mlp", (8, 8, 1)), ("dcgan", (8, 8, 1))]
)
def test_models_from_config_shapes(arch, x_shape):
    # Abstract evaluation only: shapes without running (or compiling) anything.
    g, d = models.from_config(GanConfig(architecture=arch, latent_dim=4), x_shape)
    z = jax.ShapeDtypeStruct((3, 4), jnp.float32)
    g_params, g_state = jax.eval_shape(g.init, jax.random.key(0), z)
    x = jax.eval_shape(lambda p, s, z: g.apply(p, s, z)[0], g_params, g_state, z)
    assert x.shape == (3, *x_shape)
    d_params, d_state = jax.eval_shape(d.init, jax.random.key(1), x)
    logits = jax.eval_shape(lambda p, s, x: d.apply(p, s, x)[0], d_params, d_state, x)
    assert logits.shape == (3, 1)


def test_model_errors():
    with pytest.raises(ValueError, match="image data"):
        models.from_config(GanConfig(architecture="dcgan"), (2,))
    with pytest.raises(ValueError, match="divisible by 2\\^len"):
        models.dcgan_generator((6, 6, 1), (8, 8))


def test_curves_fail_clearly_without_matplotlib(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):  # fails even if already imported
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(
        ImportError, match=r"pip install 'jnn\[plot\]' \(or matplotlib\)"
    ):
        curves.plot_curves([], tmp_path / "curves.png", ())
