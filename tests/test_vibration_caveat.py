"""Issue 12: wherever a user reads accuracy of the vibration task's load-wise split (the run's report.md, lolo.md
and lolo.json: tests/test_vibration.py), the caveat says what it shows (robustness to load/speed on the same seeded
faults) and what it does not (new bearings, new fault instances, other machines)."""

from __future__ import annotations

import pytest
from conftest import REPO, run_cli

from tinyqi.report import LOAD_SPLIT_CAVEAT, load_split_section

# What the caveat must state (the same words in the report, the LOLO table and the docs).
POINTS = ("seeded every fault once", "same physical bearings", "robustness to a change of load and speed",
          "not generalisation to new bearings", "new fault instances", "other machines")


@pytest.fixture(scope="module")
def vibration_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vib") / "run"
    result = run_cli("train", "vibration", "--sample", "--epochs", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def test_the_caveat_states_what_the_load_split_does_and_does_not_show():
    for point in POINTS:
        assert point in LOAD_SPLIT_CAVEAT
    assert load_split_section({"name": "mitdb"}) == []  # ECG reports are not concerned


@pytest.mark.slow
def test_a_vibration_runs_report_carries_the_caveat(vibration_run):
    report = (vibration_run / "report.md").read_text()
    assert "## What the held-out load shows" in report and LOAD_SPLIT_CAVEAT in report
    # it follows the test-set figures it qualifies
    assert report.index("## Test set") < report.index(LOAD_SPLIT_CAVEAT)


def test_the_docs_and_the_dataset_card_carry_the_caveat():
    doc = (REPO / "docs" / "vibration.md").read_text()
    card = (REPO / "datasets" / "cwru" / "README.md").read_text()
    for text, seeded in ((doc, "seeded every fault once"), (card, "every fault was seeded once")):
        flat = " ".join(text.replace("**", "").split())
        assert seeded in flat and "same physical bearings" in flat and "not generalisation to new bearings" in flat
        assert "robustness to a change of load and speed" in flat
    # the docs' caveat comes before the first accuracy figure
    assert doc.index("What the load-wise split shows") < doc.index("## The model")
