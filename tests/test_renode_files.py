"""The Renode suite without Renode: the generated .resc/.robot read back with Renode's own path rule and Robot's
escapes (a path with spaces must reach the monitor intact; `;` is refused), the robot's wait-then-assert, its
teardown, and the engine's failure path driven by a stand-in `renode-test` (the suite kept, Renode's boxed error
quoted). The real run is tests/test_emulate.py::test_renode_runs_the_harness, skipped where Renode is missing.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli

from tinyqi.emulate.renode_engine import RenodeEngine, renode_error, write_suite
from tinyqi.emulate.run import run_firmware, target_for_board
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import NRF52840

TARGET = target_for_board(NRF52840)
# Renode's monitor tokenizer (src/Renode/UserInterface/Tokenizer): a path is `@` then non-space characters or
# backslash-escaped spaces, up to a `;`; the PathToken value drops the `@` and turns each `\ ` into a space.
MONITOR_PATH = re.compile(r"@(?:(?!;)((\\ )|\S))+")
ROBOT_SEPARATOR = re.compile(r" {2,}|\t")
# What renode-test prints for a failed test (its robot_output_formatter boxes result.message), then its summary.
FAILED_OUTPUT = """Started Renode instance on port 41421; pid 12345
Running /tmp/suite dir/tinyqi.robot
+++++ Starting test 'tinyqi.Harness Should Finish Without Mismatches'
+++++ Finished test 'tinyqi.Harness Should Finish Without Mismatches' in 31.20 seconds with status \x1b[91mfailed\x1b[0m
      \u2554\u2550
      \u2551 Terminal tester failed!
      \u2551 Test timeout of 30 seconds (virtual) reached while waiting for line: TQ_DONE
      \u255a\u2550
Cleaning up suites
Closing Renode pid 12345
Aggregating all robot results
Output:  /tmp/suite dir/results/robot_output.xml
Tests finished with errors!
------
"""


def monitor_value(line: str) -> str:
    """The path a monitor command line passes, as Renode reads it."""
    return MONITOR_PATH.search(line).group(0)[1:].replace("\\ ", " ")


def robot_cells(line: str) -> list[str]:
    """A Robot data row's cells with Robot's backslash escapes resolved."""
    return [re.sub(r"\\(.)", r"\1", cell) for cell in ROBOT_SEPARATOR.split(line.strip())]


def robot_line(text: str, first_cell: str) -> list[str]:
    """The cells of the first row starting with `first_cell`."""
    return next(cells for cells in map(robot_cells, text.splitlines()) if cells[0] == first_cell)


@pytest.fixture
def spaced(tmp_path, harness_elf) -> tuple[Path, Path]:
    """The harness ELF and a suite directory, both under paths with spaces (and characters Robot reads)."""
    root = tmp_path / "my runs #1" / "ecg  run=a ${x}"
    root.mkdir(parents=True)
    elf = root / "harness firmware.elf"
    elf.write_bytes(harness_elf.read_bytes())
    return elf, root / "renode suite"


def test_paths_with_spaces_reach_the_monitor_intact(spaced):
    elf, directory = spaced
    robot = write_suite(elf, TARGET, directory, timeout=30)
    resc = (directory / "tinyqi.resc").read_text().splitlines()
    loaded = {line.split()[0] + " " + line.split()[1]: monitor_value(line) for line in resc if "@" in line and
              not line.startswith("#")}
    assert loaded == {"machine LoadPlatformDescription": str((directory / "nrf52840.repl").resolve()),
                      "sysbus LoadELF": str(elf.resolve()),
                      "sysbus.uart0 CreateFileBackend": str((directory / "uart0.log").resolve())}
    text = robot.read_text()
    include = robot_line(text, "Execute Command")
    assert include[0] == "Execute Command" and len(include) == 2  # one argument, however many spaces the path has
    assert monitor_value(include[1]) == str((directory / "tinyqi.resc").resolve())
    close = next(robot_cells(line) for line in text.splitlines() if "CloseFileBackend" in line)
    assert monitor_value(close[-1]) == str((directory / "uart0.log").resolve())


@pytest.mark.parametrize("bad", [";", "\t"])
def test_a_path_renode_cannot_take_is_refused_before_anything_is_written(tmp_path, harness_elf, bad):
    directory = tmp_path / f"suite{bad}dir"
    with pytest.raises(TinyqiError, match="Renode's monitor cannot take"):
        write_suite(harness_elf, TARGET, directory, timeout=30)
    assert not directory.exists()


def test_the_robot_waits_for_any_tq_done_line_then_asserts_no_mismatch(tmp_path, harness_elf):
    text = write_suite(harness_elf, TARGET, tmp_path, timeout=30).read_text()
    wait = robot_line(text, "${done}=")
    assert wait[1] == "Wait For Line On Uart" and wait[-1] == "treatAsRegex=true"
    pattern = re.compile(wait[2])
    failing = pattern.fullmatch("TQ_DONE vectors=20 mismatches=3 cycles_total=4096")
    assert failing is not None and failing.group(2) == "3"  # a wrong output ends the wait at once...
    assert robot_line(text, "Should Be Equal As Integers")[1:3] == ["${done.groups[1]}", "0"]  # ...and fails here
    assert "Test Teardown     Close Uart Log And Tear Down" in text
    teardown = text.split("*** Keywords ***\nClose Uart Log And Tear Down\n", 1)[1].split("\n\n")[0]
    assert "Run Keyword And Ignore Error    Execute Command    sysbus.uart0 CloseFileBackend @" in teardown
    assert teardown.rstrip().endswith("Test Teardown")  # Renode's own teardown runs after the file is closed


def test_renode_error_quotes_the_boxed_message_not_the_dashes():
    message = renode_error(FAILED_OUTPUT)
    assert message == ("Terminal tester failed! | Test timeout of 30 seconds (virtual) reached while waiting for line: "
                       "TQ_DONE")
    assert renode_error("Robot framework remote server binary not found: 'x'! Did you forget to build?\n------\n") \
        .startswith("Robot framework remote server binary not found")
    assert renode_error("") == "no message"


STAND_IN = """#!{python}
# A stand-in for renode-test: writes what FAKE_RENODE says to uart0.log next to the suite, prints renode-test's
# output for a failed test when FAKE_RENODE_FAIL is set, and exits like renode-test.
import os, pathlib, sys
robot = pathlib.Path(sys.argv[-1])
(robot.parent / "uart0.log").write_text(os.environ.get("FAKE_RENODE", ""))
if os.environ.get("FAKE_RENODE_FAIL"):
    sys.stdout.write({output!r})
    sys.exit(1)
"""


@pytest.fixture
def fake_renode(tmp_path, monkeypatch) -> Path:
    """`renode` and `renode-test` on PATH; temporary suites go to the returned directory."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("renode", "renode-test"):
        (bin_dir / name).write_text(STAND_IN.format(python=sys.executable, output=FAILED_OUTPUT))
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    suites = tmp_path / "tmp"
    suites.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(suites))
    monkeypatch.setenv("TMPDIR", str(suites))  # the same for `tinyqi` run as a command
    return suites


def test_a_failed_run_keeps_the_suite_and_quotes_renode(fake_renode, harness_elf, monkeypatch):
    monkeypatch.setenv("FAKE_RENODE", "TQ v=0 class=1 out=1,2 cycles=0 ok=1\n")  # stopped before TQ_DONE
    monkeypatch.setenv("FAKE_RENODE_FAIL", "1")
    with pytest.raises(TinyqiError) as caught:
        RenodeEngine(TARGET, timeout=30).run(harness_elf)
    message = str(caught.value)
    assert "Terminal tester failed! | Test timeout of 30 seconds" in message and "------" not in message
    kept = Path(re.search(r"kept in (\S+)$", message).group(1))
    assert kept.parent == fake_renode and (kept / "tinyqi.robot").is_file() and (kept / "uart0.log").is_file()


def test_a_wrong_output_is_reported_as_mismatches_not_as_a_renode_failure(fake_renode, harness_elf, monkeypatch):
    monkeypatch.setenv("FAKE_RENODE", "TQ v=0 class=1 out=1,2 cycles=0 ok=0\n"
                                      "TQ_DONE vectors=1 mismatches=1 cycles_total=0\n")
    monkeypatch.setenv("FAKE_RENODE_FAIL", "1")  # the robot's assert fails, renode-test exits 1
    result = run_firmware(harness_elf, NRF52840, engine="renode", timeout=30)
    assert (result.done.vectors, result.mismatches) == (1, 1)
    assert list(fake_renode.iterdir()) == []  # nothing to look at: the lines say it all


def test_a_passing_run_leaves_no_suite_behind(fake_renode, harness_elf, monkeypatch):
    monkeypatch.setenv("FAKE_RENODE", "TQ v=0 class=1 out=1,2 cycles=0 ok=1\n"
                                      "TQ_DONE vectors=1 mismatches=0 cycles_total=0\n")
    monkeypatch.delenv("FAKE_RENODE_FAIL", raising=False)
    assert run_firmware(harness_elf, NRF52840, engine="renode", timeout=30).bit_exact
    assert list(fake_renode.iterdir()) == []


def test_a_semicolon_in_the_elf_path_is_one_line(fake_renode, harness_elf, tmp_path):
    elf = tmp_path / "a;b" / "harness.elf"
    elf.parent.mkdir()
    elf.write_bytes(harness_elf.read_bytes())
    result = run_cli("emulate", "--engine", "renode", str(elf))
    assert_one_line_error(result, "a;b", "Renode's monitor cannot take ';'")
    assert list(fake_renode.iterdir()) == []
