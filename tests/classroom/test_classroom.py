"""A class on a real JupyterHub: one nbgrader assignment from release to grades.

A local JupyterHub on 127.0.0.1 (shared-password authenticator, SimpleLocalProcessSpawner,
configurable-http-proxy from ``tools/classroom/node_modules``) serves an instructor and
two students. Each logs in through the Hub's login form, gets a token from the Hub's
REST API and starts a server through it; every command below is typed into a
JupyterLab terminal of that user's server, and notebooks are opened and saved through
the server's contents API, all through the Hub's proxy:

0. alice opens the README's nbgitpuller link (``/hub/user-redirect/git-pull?...``): the
   Hub's OAuth logs her in to her server, nbgitpuller clones the course (a local clone
   standing for the public repository) and lesson 01 opens in JupyterLab;
1. instructor: ``make_student.py --nbgrader`` writes lesson 01's nbgrader sources, then
   ``nbgrader generate_assignment`` and ``nbgrader release_assignment``;
2. both students: ``nbgrader fetch_assignment``; alice completes the notebook (the
   lesson's own solutions typed into the answer cells, saved as JupyterLab saves), bob
   leaves it blank; both ``nbgrader submit``;
3. instructor: ``nbgrader collect``, ``nbgrader autograde`` (``COURSE_FAST=1``),
   ``nbgrader export``, ``nbgrader generate_feedback`` and ``release_feedback``; both
   students ``nbgrader fetch_feedback``;
4. the scores are read with nbgrader's Gradebook API (in this process, from the
   instructor's gradebook file) and through the formgrader's REST API of the
   instructor's server: alice has full marks, bob 0.

What does not go through the Hub: this test (playing the administrator) writes each
user's ``~/.jupyter/nbgrader_config.py`` and creates the exchange folder before the
servers start, and reads the gradebook file directly. Everything runs as one Unix user,
so each student's config names their nbgrader student id (on a real hub nbgrader takes
it from the Unix user, or from ``JUPYTERHUB_USER`` in ``jovyan`` images).

It takes several minutes, so it runs only with ``COURSE_CLASSROOM_TEST=1``
(``make classroom``). Every process started is stopped in the fixtures' finalizers,
on failure too; the last test kills the Hub outright and checks that its orphans
(proxy, single-user server, kernel) are still found and stopped.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

if os.environ.get("COURSE_CLASSROOM_TEST") != "1":  # before importing what only this needs
    pytest.skip("starts a JupyterHub with three single-user servers and autogrades two "
                "submissions (minutes); run it with `make classroom` (COURSE_CLASSROOM_TEST=1)",
                allow_module_level=True)

import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "classroom"))

from classroom import Hub, HubUser, run_processes, start_hub, stop_hub, wait_for  # noqa: E402

COURSE = "vae"
ASSIGNMENT = "lesson01"
LESSON = "01_autoencoder_baseline"
LOGS = ROOT / "build" / "classroom"  # the Hub's log, the terminals' transcript, timings
INSTRUCTOR, COMPLETES, BLANK = "instructor", "alice", "bob"
STUDENTS = (COMPLETES, BLANK)
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.MULTILINE)

#: Step name -> seconds, printed at the end of the run.
TIMINGS: dict[str, float] = {}


def _write_nbgrader_config(home: Path, lines: list[str]) -> None:
    """Write ``home/.jupyter/nbgrader_config.py`` with ``lines`` after ``get_config()``."""
    (home / ".jupyter").mkdir(parents=True, exist_ok=True)
    text = "c = get_config()  # noqa: F821\n" + "".join(f"{line}\n" for line in lines)
    (home / ".jupyter" / "nbgrader_config.py").write_text(text)


def _provision(root: Path) -> None:
    """The administrator's part: the exchange folder and every user's nbgrader config."""
    exchange = root / "exchange"
    exchange.mkdir(parents=True)
    exchange.chmod(0o777)
    common = [f"c.CourseDirectory.course_id = {COURSE!r}",
              f"c.Exchange.root = {str(exchange)!r}"]
    _write_nbgrader_config(root / "home" / INSTRUCTOR, common + [
        f"c.CourseDirectory.root = {str(root / 'home' / INSTRUCTOR / 'course')!r}",
        "c.ExecutePreprocessor.timeout = 600  # the training cells take minutes",
        "c.ExchangeCollect.check_owner = False  # one Unix user owns every submission here",
    ])
    for student in STUDENTS:
        # On a real hub nbgrader takes the student id from the Unix user name.
        _write_nbgrader_config(root / "home" / student,
                               common + [f"c.CourseDirectory.student_id = {student!r}"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A running Hub whose users have been provisioned; stopped with all its processes."""
    root = tmp_path_factory.mktemp("classroom")
    _provision(root)
    start = time.monotonic()
    running = start_hub(root, [INSTRUCTOR, *STUDENTS])
    TIMINGS["start the Hub and the proxy"] = time.monotonic() - start
    try:
        yield running
    finally:
        start = time.monotonic()
        leftovers = stop_hub(running)
        TIMINGS["stop everything"] = time.monotonic() - start
        if leftovers:
            print("\nstill running after the Hub stopped (now stopped):\n  "
                  + "\n  ".join(leftovers))
        remaining = run_processes(running.run_id)
        table = "".join(f"  {seconds:7.1f}  {step}\n" for step, seconds in TIMINGS.items())
        table += f"  {sum(TIMINGS.values()):7.1f}  total\n"
        # The temporary folder does not outlive other pytest runs: keep the logs in build/.
        LOGS.mkdir(parents=True, exist_ok=True)
        for name in ("jupyterhub.log", "transcript.txt"):
            if (root / name).exists():
                shutil.copyfile(root / name, LOGS / name)
        (LOGS / "timings.txt").write_text(table)
        print(f"\nclassroom timings (s):\n{table}logs: {LOGS}")
        assert not remaining, f"processes of the classroom still running: {remaining}"


@pytest.fixture(scope="module")
def users(hub: Hub) -> Iterator[dict[str, HubUser]]:
    """Every user logged in through the login form, with a server started via the API."""
    people: dict[str, HubUser] = {}
    try:
        for name in (INSTRUCTOR, *STUDENTS):
            start = time.monotonic()
            person = HubUser(hub, name)
            person.log_in()
            people[name] = person
            person.start_server()
            TIMINGS[f"log in {name} and start the server"] = time.monotonic() - start
        yield people
    finally:
        start = time.monotonic()
        for person in people.values():
            try:
                person.stop_server()
            except (AssertionError, TimeoutError, OSError) as error:
                print(f"\ncould not stop {person.name}'s server through the Hub: {error}")
        TIMINGS["stop the servers through the Hub API"] = time.monotonic() - start


def _run(person: HubUser, step: str, command: str, timeout: float = 300) -> str:
    """Type ``command`` into ``person``'s terminal; fail with its output unless it succeeds.

    Every command and its output is appended to ``transcript.txt`` in the classroom folder.
    """
    result = person.run(command, timeout=timeout)
    TIMINGS[f"{person.name}: {step}"] = result.seconds
    with open(person.hub.root / "transcript.txt", "a") as transcript:
        transcript.write(f"\n### {person.name} ({result.seconds:.1f} s, exit {result.status})"
                         f"\n{result.output}\n")
    assert result.status == 0, (
        f"{person.name}: `{command}` exited with {result.status}:\n{result.output[-4000:]}")
    return result.output


def _completed(released: dict, source: dict) -> dict:
    """The released notebook with every answer cell holding the lesson's own solution."""
    solutions = {cell["metadata"]["nbgrader"]["grade_id"]: _MARKER.sub("", "".join(
        cell["source"]) if isinstance(cell["source"], list) else cell["source"])
        for cell in source["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}
    filled = 0
    for cell in released["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions and cell["metadata"]["nbgrader"].get("solution"):
            cell["source"] = solutions[grade_id]
            filled += 1
    assert filled == len(solutions) > 0, f"filled {filled} of {len(solutions)} answer cells"
    return released


def test_nbgitpuller_link_opens_the_lesson(hub: Hub, users: dict[str, HubUser]) -> None:
    """The README's nbgitpuller link, through the Hub, pulls the course and opens lesson 01."""
    repository = hub.root / "git" / "vae-course"  # stands for the course's public repository
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repository)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(repository), "checkout", "-q", "-B", "main"], check=True,
                   timeout=60)
    notebook = f"vae-course/notebooks/{LESSON}.ipynb"
    link = f"{hub.url}/hub/user-redirect/git-pull?" + urlencode(
        {"repo": f"file://{repository}", "branch": "main", "urlpath": f"lab/tree/{notebook}"})
    start = time.monotonic()
    opened = users[COMPLETES].follow_nbgitpuller_link(link)
    TIMINGS[f"{COMPLETES}: nbgitpuller link"] = time.monotonic() - start
    assert opened == f"{hub.url}/user/{COMPLETES}/lab/tree/{notebook}"
    lesson = users[COMPLETES].read_notebook(notebook)
    assert lesson["cells"][0]["cell_type"] == "markdown"


def test_assignment_through_the_hub(hub: Hub, users: dict[str, HubUser]) -> None:
    """Release, fetch, complete or leave blank, submit, collect, autograde: full marks and 0."""
    teacher = users[INSTRUCTOR]
    notebook = f"{LESSON}.ipynb"

    # 1. The instructor writes the nbgrader sources and releases the assignment.
    _run(teacher, "write the nbgrader sources (make_student.py --nbgrader)",
         f"cd {ROOT} && python tools/make_student.py --out ~/student --nbgrader ~/course "
         f"notebooks/{notebook}", timeout=300)
    assert teacher.list_directory(f"course/source/{ASSIGNMENT}") == [notebook]
    _run(teacher, "generate_assignment + release_assignment",
         f"cd ~/course && nbgrader generate_assignment {ASSIGNMENT} --create "
         f"&& nbgrader release_assignment {ASSIGNMENT}", timeout=600)

    # 2. Both students fetch it; alice completes it, bob leaves it blank; both submit.
    for name in STUDENTS:
        listing = _run(users[name], "nbgrader list", "nbgrader list")
        assert f"{COURSE} {ASSIGNMENT}" in listing, listing
        _run(users[name], "fetch_assignment", f"nbgrader fetch_assignment {ASSIGNMENT}")
        assert users[name].list_directory(ASSIGNMENT) == [notebook]
    path = f"{ASSIGNMENT}/{notebook}"
    released = users[COMPLETES].read_notebook(path)
    text = "".join("".join(cell["source"]) for cell in released["cells"])
    assert "### BEGIN SOLUTION" not in text and "raise NotImplementedError()" in text
    source = teacher.read_notebook(f"course/source/{ASSIGNMENT}/{notebook}")
    users[COMPLETES].save_notebook(path, _completed(released, source))
    for name in STUDENTS:
        _run(users[name], "submit", f"nbgrader submit {ASSIGNMENT}")

    # 3. The instructor collects and autogrades (fast mode: the embedded data, few epochs).
    collected = _run(teacher, "collect", f"cd ~/course && nbgrader collect {ASSIGNMENT}")
    for name in STUDENTS:
        assert f"Collecting submission: {name} {ASSIGNMENT}" in collected, collected
    _run(teacher, "autograde (COURSE_FAST=1)",
         f"cd ~/course && COURSE_FAST=1 nbgrader autograde {ASSIGNMENT} --create",
         timeout=1800)
    _run(teacher, "export + generate_feedback + release_feedback",
         f"cd ~/course && nbgrader export && nbgrader generate_feedback {ASSIGNMENT} "
         f"&& nbgrader release_feedback {ASSIGNMENT}", timeout=600)
    for name in STUDENTS:
        _run(users[name], "fetch_feedback", f"nbgrader fetch_feedback {ASSIGNMENT}")
        feedback = users[name].list_directory(f"{ASSIGNMENT}/feedback")
        assert len(feedback) == 1, feedback
        assert users[name].list_directory(f"{ASSIGNMENT}/feedback/{feedback[0]}") == [
            f"{LESSON}.html"]

    # 4. The grades: nbgrader's Gradebook API on the instructor's gradebook ...
    from nbgrader.api import Gradebook

    course = hub.root / "home" / INSTRUCTOR / "course"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE) as gradebook:
        scores = {name: gradebook.find_submission_notebook(LESSON, ASSIGNMENT, name)
                  for name in STUDENTS}
        full = scores[COMPLETES].max_score
        got = {name: (scores[name].score, scores[name].max_score) for name in STUDENTS}
    assert full > 0
    assert got == {COMPLETES: (full, full), BLANK: (0, full)}, got
    # ... the CSV that `nbgrader export` wrote ...
    with open(course / "grades.csv", newline="") as handle:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert exported == {COMPLETES: full, BLANK: 0.0}, exported
    # ... and what the instructor's formgrader shows, through the Hub.
    reply = teacher.server_api("GET", f"formgrader/api/submissions/{ASSIGNMENT}")
    assert reply.status_code == 200, reply.text[:300]
    shown = {row["student"]: (row["score"], row["max_score"], row["autograded"])
             for row in reply.json()}
    assert shown == {COMPLETES: (full, full, True), BLANK: (0, full, True)}, shown
    print(f"\n{COMPLETES}: {full:g}/{full:g}, {BLANK}: 0/{full:g}")


def test_orphans_are_stopped_when_the_hub_dies(tmp_path: Path) -> None:
    """Kill the Hub outright: its proxy, a user's server and a kernel are still stopped."""
    crashed = start_hub(tmp_path / "crash", ["carol"])
    try:
        carol = HubUser(crashed, "carol")
        carol.log_in()
        carol.start_server()
        reply = carol.server_api("POST", "api/kernels", json={"name": "python3"})
        assert reply.status_code == 201, reply.text[:300]

        def commands() -> str:
            found = []
            for process in run_processes(crashed.run_id):
                try:
                    found.append(" ".join(process.cmdline()))
                except psutil.Error:  # it ended meanwhile
                    continue
            return " ".join(found)

        wait_for(lambda: True if "ipykernel" in commands() else None, timeout=120,
                 what="carol's kernel process", interval=1)
        names = commands()
        for part in ("configurable-http-proxy", "jupyterhub-singleuser", "ipykernel"):
            assert part in names, f"{part} not among the run's processes: {names}"
        os.killpg(crashed.process.pid, signal.SIGKILL)  # no cleanup by the Hub
        crashed.process.wait(timeout=30)
    finally:
        leftovers = stop_hub(crashed)
    assert any("configurable-http-proxy" in line for line in leftovers), leftovers
    assert any("jupyterhub-singleuser" in line for line in leftovers), leftovers
    assert any("ipykernel" in line for line in leftovers), leftovers
    assert not run_processes(crashed.run_id)
