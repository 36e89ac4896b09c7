"""The README's research example runs as written (in a temporary directory)."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def research_block() -> str:
    section = README.read_text().split("## Research use", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL)[1]


@pytest.mark.slow
def test_research_example_trains_loads_and_predicts(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(research_block(), str(README), "exec"), scope)
    result, run, probs = scope["result"], scope["run"], scope["probs"]
    assert result.test["accuracy"] > 0.9
    assert run.evaluate(data=scope["scaled"](scope["test"])) == pytest.approx(
        result.test
    )
    np.testing.assert_allclose(np.asarray(probs).sum(axis=1), 1.0, rtol=1e-5)
    assert os.path.isdir(tmp_path / "runs" / "my_cnn" / "checkpoints")
    assert "accuracy" in capsys.readouterr().out
