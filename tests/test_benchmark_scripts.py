"""The shell scripts that run the benchmarks and the project: they parse, and refuse what they do not know.

Long run sets are restarted every session from these scripts, so a syntax error or a step
that silently does nothing costs a session's cores; these checks run nothing heavy.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*REPO.glob("benchmarks/*.sh"), *REPO.glob("scripts/*.sh"), REPO / ".ci" / "run"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(REPO)))
def test_script_parses(script):
    completed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("script, argument, message", [
    ("benchmarks/frontier.sh", "99", "frontier.sh: unknown step '99' (steps: 1 to 15)"),
    ("benchmarks/lanes.sh", "nope", "lanes.sh: unknown lane 'nope' (lanes: tuning runs)"),
])
def test_unknown_step_or_lane_exits_2_with_one_line(script, argument, message):
    completed = subprocess.run(["bash", str(REPO / script), argument], capture_output=True, text=True,
                               env={"PATH": "/usr/bin:/bin", "PYTHON": "false"})
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [message]
