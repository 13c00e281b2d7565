"""nbgrader end to end on every lesson: generate, autograde four submissions, check scores.

For each lesson this tool makes an nbgrader course directory
(``build/grade-check/lessonNN/``), writes the lesson's nbgrader source notebook with
``tools/make_student.py``'s :func:`nbgrader_source`, generates the assignment, and
puts four submissions of the released notebook in
``submitted/<student>/lessonNN/``:

* ``solution``: the lesson's own solutions: full marks;
* ``blank``: the release untouched: 0;
* ``mistakes``: one typical mistake per question (``tests/grading/submissions.py``):
  every question loses its point, and its test cell shows the checker's advice;
* ``shortcuts``: per question, an answer that hands back, wraps or calls the course's
  own implementation, in a copy whose ``set_graded()`` line was deleted: 0, and every
  test cell says it is a graded copy.

Then autograde and generate_feedback (nbgrader's Python API, ``NbGraderAPI``, the
same code as the ``nbgrader`` commands, in one process per lesson). The scores are read
back through nbgrader's ``Gradebook`` API, per notebook and per grade cell, and each
autograded notebook is checked: only graded test cells may fail, with the expected
message, so every submission ran top to bottom. Any difference is printed and the exit
status is 1.

Lessons run in ``--workers`` parallel processes, each in its own course directory
(its own gradebook, and an ``nbgrader_config.py`` an instructor can reuse). Kernels
run in fast mode (``COURSE_FAST=1``) with a cell timeout of ``--timeout`` seconds
(nbgrader's default of 30 s would cut off training cells).

Usage::

    python tools/grade_check.py                 # every lesson, 2 workers
    python tools/grade_check.py lesson01 lesson03 --workers 1
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from make_student import GRADED_CALL, nbgrader_source

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "grading"))  # the submissions live with their tests

from submissions import LESSONS, Answer  # noqa: E402

from course_utils.exercises.core import NOT_IMPLEMENTED_MESSAGE  # noqa: E402

STUDENTS = ("solution", "blank", "mistakes", "shortcuts")
COURSE_ID = "vae-course"
# Seconds each lesson took (four autogrades and the rest) in a fast-mode run on 2 busy
# cores: the slowest start first, so that the workers finish at about the same time.
# Seconds per lesson for all four submissions (measured under load); the costliest start first.
_COST = {"lesson01": 220, "lesson02": 115, "lesson03": 720, "lesson04": 1080, "lesson05": 1000,
         "lesson06": 345, "lesson07": 600, "lesson08": 660}
REFUSAL_PHRASE = "This is a graded copy"
DEFAULT_OUT = ROOT / "build" / "grade-check"

_REGION = re.compile(
    r"^([ \t]*)(?:### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*"
    r"|# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\))$",
    re.MULTILINE | re.DOTALL)
_CHECK = re.compile(r"^(\w+)\.(q\d+)\.check\((\w+)\)\s*$", re.MULTILINE)


# ------------------------------------------------------------------- building answers

def fill(source: str, answer: Answer) -> str:
    """The answer cell ``source`` with ``answer`` written in.

    Parameters
    ----------
    source : str
        An answer cell, with its solution region (lesson) or nbgrader's stub (release).
    answer : Answer
        ``answer.body`` replaces the cell's one solution region or stub, indented like
        it; ``answer.after`` is appended to the cell.

    Returns
    -------
    str
        The new cell source.

    Raises
    ------
    ValueError
        If a body is given and the cell has no solution region, or several.
    """
    if answer.after is not None:
        return f"{source.rstrip()}\n\n{answer.after}\n"
    regions = list(_REGION.finditer(source))
    if len(regions) != 1:
        raise ValueError(f"expected one solution region (or stub) in the answer cell, found "
                         f"{len(regions)}:\n{source}")
    region = regions[0]
    body = textwrap.indent(answer.body, region.group(1))
    return source[:region.start()] + body + source[region.end():]


def exercise_cells(notebook: nbformat.NotebookNode) -> dict[str, tuple[int, str]]:
    """Map each question (``"q1"``) to the index of its answer cell and the answer's name.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        A lesson, its nbgrader source or its release.

    Returns
    -------
    dict of str to (int, str)
        For each ``ex.qN.check(NAME)`` cell: the last code cell before it that defines
        ``NAME``, and ``NAME``.

    Raises
    ------
    ValueError
        If a check has no answer cell before it.
    """
    found: dict[str, tuple[int, str]] = {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for _alias, question, name in _CHECK.findall(cell.source):
            defines = re.compile(rf"^(def {name}\(|{name}\s*=)", re.MULTILINE)
            answer = next((i for i in range(index - 1, -1, -1)
                           if notebook.cells[i].cell_type == "code"
                           and defines.search(notebook.cells[i].source)), None)
            if answer is None:
                raise ValueError(f"no cell defines {name}, the answer to {question}")
            found.setdefault(question, (answer, name))
    return found


def remove_graded_switch(notebook: nbformat.NotebookNode) -> int:
    """Delete the ``set_graded()`` line, as a learner might; return how many went."""
    removed = 0
    for cell in notebook.cells:
        if cell.cell_type == "code" and GRADED_CALL in cell.source:
            lines = cell.source.splitlines()
            cell.source = "\n".join(line for line in lines if line != GRADED_CALL)
            removed += len(lines) - len(cell.source.splitlines())
    return removed


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def submission(student: str, release: nbformat.NotebookNode,
               source: nbformat.NotebookNode, lesson: str) -> nbformat.NotebookNode:
    """What ``student`` hands in, built from the released notebook.

    Parameters
    ----------
    student : {"solution", "blank", "mistakes", "shortcuts"}
        Which submission (see the module docstring).
    release, source : nbformat.NotebookNode
        The notebook nbgrader released, and its nbgrader source (with solutions).
    lesson : str
        E.g. ``"lesson01"``: selects the answers in ``tests/grading/submissions.py``.

    Returns
    -------
    nbformat.NotebookNode
        A new notebook; ``release`` is not changed.

    Raises
    ------
    ValueError
        If the notebook's questions differ from the submissions' or the release has
        no graded-mode switch to delete.
    """
    notebook = copy.deepcopy(release)
    if student == "blank":
        return notebook
    if student == "solution":
        solutions = {_grade_id(c): c.source for c in source.cells if _grade_id(c)}
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = solutions[_grade_id(cell)]
        return notebook
    questions = LESSONS[lesson]
    cells = exercise_cells(notebook)
    if set(cells) != set(questions):
        raise ValueError(f"{lesson}: the notebook's questions {sorted(cells)} differ from "
                         f"tests/grading/submissions.py's {sorted(questions)}")
    for question, (index, _name) in cells.items():
        entry = questions[question]
        answer = entry.mistake if student == "mistakes" else entry.shortcuts[0]
        notebook.cells[index].source = fill(notebook.cells[index].source, answer)
    if student == "shortcuts" and remove_graded_switch(notebook) != 1:
        raise ValueError(f"{lesson}: the release has no single set_graded() line to delete")
    return notebook


# ---------------------------------------------------------------------- expectations

@dataclass(frozen=True)
class Expected:
    """Per grade cell: the points and a phrase its failure message must contain."""

    points: dict[str, float]
    phrases: dict[str, str | None]

    @property
    def total(self) -> float:
        return sum(self.points.values())


def expected_grades(student: str, lesson: str, grade_ids: dict[str, str]) -> Expected:
    """What ``student``'s submission must score, per grade cell.

    Parameters
    ----------
    student : {"solution", "blank", "mistakes", "shortcuts"}
    lesson : str
        E.g. ``"lesson01"``.
    grade_ids : dict of str to str
        Question (``"q1"``) to the grade id of its test cell.

    Returns
    -------
    Expected
        1 point per test cell for the solution and no failure; 0 otherwise, with the
        phrase the failure must show (not attempted, the mistake's advice, or the
        graded-copy refusal).
    """
    points: dict[str, float] = {}
    phrases: dict[str, str | None] = {}
    for question, grade_id in grade_ids.items():
        if student == "solution":
            points[grade_id], phrases[grade_id] = 1.0, None
        elif student == "blank":
            points[grade_id], phrases[grade_id] = 0.0, NOT_IMPLEMENTED_MESSAGE
        elif student == "mistakes":
            points[grade_id] = 0.0
            phrases[grade_id] = LESSONS[lesson][question].phrase
        else:
            points[grade_id], phrases[grade_id] = 0.0, REFUSAL_PHRASE
    return Expected(points, phrases)


@dataclass
class Outcome:
    """What one submission got: per grade cell, and its notebook's errors."""

    score: float
    max_score: float
    grades: dict[str, float]
    errors: dict[str, str] = field(default_factory=dict)  # grade id or cell -> message


def compare(lesson: str, student: str, expected: Expected, outcome: Outcome) -> list[str]:
    """Every way ``outcome`` differs from ``expected``.

    Parameters
    ----------
    lesson, student : str
        Named in the messages.
    expected : Expected
    outcome : Outcome

    Returns
    -------
    list of str
        One readable line per difference (wrong total or maximum, wrong points or
        message of a test cell, an error in any other cell); empty when all is right.
    """
    where = f"{lesson}/{student}"
    problems = []
    if outcome.max_score != len(expected.points):
        problems.append(f"{where}: max score {outcome.max_score:g}, expected "
                        f"{len(expected.points)} (one point per question)")
    if outcome.score != expected.total:
        problems.append(f"{where}: score {outcome.score:g}, expected {expected.total:g}")
    for grade_id, points in expected.points.items():
        got = outcome.grades.get(grade_id)
        if got != points:
            problems.append(f"{where}: {grade_id} scored {got}, expected {points:g}")
        phrase = expected.phrases[grade_id]
        message = outcome.errors.get(grade_id)
        if phrase is None and message is not None:
            problems.append(f"{where}: {grade_id} failed: {message}")
        if phrase is not None and (message is None or phrase not in message):
            problems.append(f"{where}: {grade_id} should fail with {phrase!r}; got {message!r}")
    for cell, message in outcome.errors.items():
        if cell not in expected.points:
            problems.append(f"{where}: {cell} raised (the notebook must run to the end): "
                            f"{message}")
    return problems


def notebook_errors(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Error messages of an executed notebook, keyed by grade id (other cells: 'cell N')."""
    errors = {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                key = _grade_id(cell) or f"cell {index}"
                errors[key] = f"{output.get('ename')}: {output.get('evalue')}"
    return errors


# ------------------------------------------------------------------------ running

@dataclass
class LessonRun:
    """One lesson's course directory, its grade cells, timings and what was found."""

    lesson: str
    notebook: str
    questions: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _config(timeout: int) -> str:
    return ("# nbgrader configuration of this course directory, written by tools/grade_check.py\n"
            "c = get_config()  # noqa: F821 (nbgrader defines get_config)\n"
            f'c.CourseDirectory.course_id = "{COURSE_ID}"\n'
            "# nbgrader's default of 30 s per cell would cut off the training cells.\n"
            f"c.Execute.timeout = {timeout}\n")


def prepare_lesson(path: Path, out: Path, timeout: int) -> LessonRun:
    """A fresh course directory for one lesson, with its nbgrader source notebook."""
    lesson = f"lesson{path.name[:2]}"
    course = out / lesson
    shutil.rmtree(course, ignore_errors=True)
    (course / "source" / lesson).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(_config(timeout))
    source = nbgrader_source(nbformat.read(path, as_version=4), lesson)
    nbformat.write(source, course / "source" / lesson / path.name)
    return LessonRun(lesson, path.stem, {q: f"{lesson}-{q}-test" for q in exercise_cells(source)})


def grade_in_this_process(course: Path, lesson: str, timeout: int) -> dict[str, float]:
    """Generate, submit four times, autograde and write feedback, with nbgrader's API.

    Returns the seconds each step took. Raises RuntimeError with nbgrader's log if a
    step fails.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = COURSE_ID
    config.Execute.timeout = timeout
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    seconds: dict[str, float] = {}

    def step(name: str, call, *args) -> None:
        start = time.perf_counter()
        result = call(*args)
        seconds[name] = time.perf_counter() - start
        if not result.get("success"):
            raise RuntimeError(f"nbgrader {name} failed in {course}:\n{result.get('log', '')}"
                               f"\n{result.get('error', '')}")

    step("generate", api.generate_assignment, lesson)
    (path,) = (course / "source" / lesson).glob("*.ipynb")
    source = nbformat.read(path, as_version=4)
    release = nbformat.read(course / "release" / lesson / path.name, as_version=4)
    for student in STUDENTS:
        folder = course / "submitted" / student / lesson
        folder.mkdir(parents=True)
        nbformat.write(submission(student, release, source, lesson), folder / path.name)
    for student in STUDENTS:
        step(f"autograde {student}", api.autograde, lesson, student)
    step("feedback", api.generate_feedback, lesson)
    return seconds


def run_worker(run: LessonRun, out: Path, timeout: int) -> None:
    """Grade one lesson in a child process (its own kernels, course and gradebook)."""
    course = out / run.lesson
    env = dict(os.environ, COURSE_FAST="1", PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log = course / "grade-check.log"
    with log.open("w") as stream:
        done = subprocess.run([sys.executable, __file__, "--worker", run.lesson, "--out",
                               str(out), "--timeout", str(timeout)], env=env, stdout=stream,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"grading failed (exit {done.returncode}); end of {log}:\n{tail}")
    run.seconds = json.loads((course / "seconds.json").read_text())


def read_back(run: LessonRun, out: Path) -> None:
    """Fill ``run.outcomes`` from the gradebook and the autograded notebooks; compare."""
    from nbgrader.api import Gradebook

    course = out / run.lesson
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in STUDENTS:
            submitted = gradebook.find_submission_notebook(run.notebook, run.lesson, student)
            grades = {grade_id: gradebook.find_grade(grade_id, run.notebook, run.lesson,
                                                     student).score
                      for grade_id in run.questions.values()}
            graded = nbformat.read(course / "autograded" / student / run.lesson /
                                   f"{run.notebook}.ipynb", as_version=4)
            outcome = Outcome(submitted.score, submitted.max_score, grades,
                              notebook_errors(graded))
            run.outcomes[student] = outcome
            expected = expected_grades(student, run.lesson, run.questions)
            run.problems += compare(run.lesson, student, expected, outcome)
            feedback = course / "feedback" / student / run.lesson / f"{run.notebook}.html"
            if not feedback.is_file():
                run.problems.append(f"{run.lesson}/{student}: no feedback at {feedback}")
            elif (f"Score: {outcome.score:.1f} / {outcome.max_score:.1f}"
                  not in _score_text(feedback)):
                run.problems.append(f"{run.lesson}/{student}: the feedback does not show "
                                    f"the score {outcome.score:g} / {outcome.max_score:g}")


def _score_text(feedback: Path) -> str:
    """The feedback page's text with tags and runs of spaces removed."""
    text = re.sub(r"<[^>]+>", " ", feedback.read_text(errors="replace"))
    return re.sub(r"\s+", " ", text)


def _table(runs: list[LessonRun]) -> str:
    header = (f"{'lesson':<9}{'points':>7}" + "".join(f"{s:>11}" for s in STUDENTS)
              + f"{'s/notebook':>12}{'lesson s':>10}")
    lines = [header]
    for run in runs:
        scores = "".join(f"{run.outcomes[s].score:>11g}" if s in run.outcomes else f"{'-':>11}"
                         for s in STUDENTS)
        per_notebook = [v for k, v in run.seconds.items() if k.startswith("autograde")]
        mean = sum(per_notebook) / max(len(per_notebook), 1)
        lines.append(f"{run.lesson:<9}{len(run.questions):>7}{scores}{mean:>12.0f}"
                     f"{sum(run.seconds.values()):>10.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="e.g. lesson01 (default: every lesson)")
    parser.add_argument("--workers", type=int, default=2,
                        help="lessons graded at once, each in its own process and course")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", metavar="LESSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        import nbgrader
    except ImportError:
        print("nbgrader is not installed: `make grade-check` installs it (test extra), or "
              "pip install -c requirements/lock.txt -e '.[test]'.", file=sys.stderr)
        return 2
    if args.worker:  # the child process of run_worker
        course = args.out / args.worker
        seconds = grade_in_this_process(course, args.worker, args.timeout)
        (course / "seconds.json").write_text(json.dumps(seconds))
        return 0
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.lessons:
        paths = [p for p in paths if f"lesson{p.name[:2]}" in args.lessons]
        if len(paths) != len(set(args.lessons)):
            parser.error(f"unknown lesson in {args.lessons}")
    missing = {f"lesson{p.name[:2]}" for p in paths} - set(LESSONS)
    if missing:
        print(f"no submissions for {sorted(missing)} in tests/grading/submissions.py",
              file=sys.stderr)
        return 2
    print(f"grade check: nbgrader {nbgrader.__version__}, {len(paths)} lessons x "
          f"{len(STUDENTS)} submissions, {args.workers} workers, COURSE_FAST=1, cell "
          f"timeout {args.timeout} s, in {args.out}", flush=True)
    start = time.perf_counter()
    runs = [prepare_lesson(path, args.out, args.timeout) for path in paths]
    runs.sort(key=lambda run: _COST.get(run.lesson, 0), reverse=True)
    failures: list[str] = []
    done: list[LessonRun] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = {pool.submit(run_worker, run, args.out, args.timeout): run for run in runs}
        for future in concurrent.futures.as_completed(futures):
            run = futures[future]
            try:
                future.result()
                read_back(run, args.out)
            except Exception as error:  # report every lesson, then fail
                failures.append(f"{run.lesson}: {error}")
                print(f"{run.lesson}: FAILED: {error}", flush=True)
                continue
            done.append(run)
            failures += run.problems
            print(f"{run.lesson}: " + ", ".join(
                f"{s} {run.outcomes[s].score:g}/{run.outcomes[s].max_score:g}"
                for s in STUDENTS) + f" ({sum(run.seconds.values()):.0f} s)"
                + (f"  {len(run.problems)} PROBLEMS" if run.problems else ""), flush=True)
    print(_table(sorted(done, key=lambda run: run.lesson)))
    print(f"grade check took {time.perf_counter() - start:.0f} s")
    if failures:
        print(f"\nGRADE CHECK FAILED ({len(failures)} problems):", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("grade check passed: every score is as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
