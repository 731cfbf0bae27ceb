"""Several processes opening a brand-new MLflow store at once (the three clients of a day on a
fresh deployment) must all succeed: the store's creation and migration are serialized."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from pixie_assets.core.settings import Settings
from pixie_assets.training.registry import serving_scorer
print(serving_scorer(Settings(home=sys.argv[1]), sys.argv[2]).version)
"""


def test_parallel_first_use_of_a_new_store(tmp_path):
    home = tmp_path / "home"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(home), client],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for client in ("homefeed", "related_pins", "notifications")
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-2000:]
        assert out.strip().splitlines()[-1] == "visit_count"
