"""Mixed precision reaches float32's accuracy on the digits configs (slow).

In a module of its own: the fast-compile fixture of test_precision.py stays
on for its whole module, and these runs must compile as users' runs do.

One run is not a measurement at this size: the test split holds 359 images,
so one image is 0.28 points and a single run's accuracy (~99%) has a
binomial standard error of about 0.55 points. Pairing the seeds does not
remove that: the CNN's seed 0 measured float16 0.56 points below float32,
its seed 2 0.28 points above. Each precision's accuracy is therefore
the mean over `SEEDS` training seeds (init, shuffling, dropout; the split is
`data.seed`'s, the same for all), which puts the standard error of the
difference near 0.35 points, and the half-point bar applies to that mean.
"""

import os

import numpy as np
import pytest

from jnn import config as config_lib
from jnn.train import precision

SEEDS = range(5)


@pytest.mark.skipif(
    not os.environ.get("JNN_ACCEPTANCE"), reason="~2.5 min: JNN_ACCEPTANCE=1 runs it"
)
@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])
def test_the_digits_configs_reach_float32_accuracy_within_half_a_point(tmp_path, name):
    # With XLA's optimisations, as users run it: unoptimised programs round
    # every intermediate to bfloat16 (no fusion), and measured the CNN 1.1
    # points below float32 (98.05% vs 99.16%) where optimised ones were 0.3.
    from jnn.train import fit_config

    accuracy = {compute: [] for compute in precision.PRECISIONS}
    for seed in SEEDS:
        for compute in precision.PRECISIONS:
            overrides = [f"train.precision={compute}", f"train.seed={seed}"]
            cfg = config_lib.load(f"configs/{name}.toml", overrides)
            run_dir = tmp_path / f"{compute}-{seed}"
            result = fit_config(cfg, run_dir, log=None, progress=False)
            accuracy[compute].append(result.test["accuracy"])
    print(f"\n{name} test accuracy, seeds {list(SEEDS)}:")
    for compute, values in accuracy.items():
        print(f"  {compute:9s} mean {np.mean(values):.4f}  runs {np.round(values, 4)}")
    reference = np.mean(accuracy["float32"])
    for compute in ("bfloat16", "float16"):
        assert abs(np.mean(accuracy[compute]) - reference) <= 0.005, accuracy
