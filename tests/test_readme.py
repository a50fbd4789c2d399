"""The README's commands are the truth: CI runs exactly the README's test command."""

from conftest import REPO


def readme_commands():
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index("```bash") + 1
    return [l.split("  #")[0].strip() for l in lines[start : start + 2]]


def test_readme_opens_with_the_two_commands():
    main_job, tests = readme_commands()
    assert main_job.startswith("./scripts/setup && ") and "tinyqi train ecg" in main_job
    assert tests.startswith("./scripts/setup && ") and "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = [l.strip() for l in (REPO / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert readme_commands()[1] in ci
