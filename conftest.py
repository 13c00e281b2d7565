"""Put the course's tools on sys.path, and report how many seconds each test file took."""

import sys
from pathlib import Path

import pytest

# ------------------------------------------------------------- the tools, importable
# tools/*.py are scripts (`python tools/make_student.py`), so each finds its siblings in
# its own folder. Their tests import them as modules (`from make_student import ...`):
# tools/ goes on sys.path once, here, before any test module is collected.
sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))


# ------------------------------------------------------------- where the time goes
# After every run, one line per test file (a lesson, a student version or a test
# module) with the seconds its tests took, slowest first, so that a slow `make test`
# says where its time went. The totals are also written to build/test-times-pyXY.json.

_SECONDS_BY_FILE: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    _SECONDS_BY_FILE[path] = _SECONDS_BY_FILE.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    import json

    if not _SECONDS_BY_FILE:
        return
    ranked = sorted(_SECONDS_BY_FILE.items(), key=lambda item: -item[1])
    total = sum(_SECONDS_BY_FILE.values())
    terminalreporter.section("seconds per file (setup + call + teardown)")
    for path, seconds in ranked[:25]:
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
    rest = sum(seconds for _, seconds in ranked[25:])
    terminalreporter.write_line(f"{rest:8.1f}  the other {max(len(ranked) - 25, 0)} files; "
                                f"{total:.1f} s in all")
    version = "".join(map(str, sys.version_info[:2]))
    out = Path(__file__).resolve().parent / "build" / f"test-times-py{version}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(ranked), indent=1) + "\n")
