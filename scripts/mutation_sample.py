"""A sampled mutation run over ``engine/``, ``plugins/coordination/`` and ``plugins/verification/``
(issue 15): every mutant mutmut would make there is listed, a uniform random sample of them is
drawn, and each one is put in place and tested against only the tests that run its line.

    .venv/bin/python scripts/mutation_sample.py --build-map      # once (or after tests change)
    .venv/bin/python scripts/mutation_sample.py                  # N=200, --seed 15
    .venv/bin/python scripts/mutation_sample.py --survivors      # the last run's survivors again
    .venv/bin/python scripts/mutation_sample.py --only engine/cases.py -n 30

Why not ``mutmut run``: over these trees mutmut 2.x makes ~11,600 mutants and runs its one
runner command for each; on two cores that is days.  Its coverage filter (``--use-coverage``)
only skips uncovered lines, it does not narrow the tests.  So this script keeps what mutmut does
well and adds only what it lacks:

* the mutants are mutmut's own (``mutmut.list_mutations`` and ``mutmut.mutate`` with a
  ``mutmut.Context``, the functions ``mutmut run`` itself calls), so the operators, the
  ``# pragma: no mutate`` lines and the numbering are mutmut's, not invented here;
* a uniform sample of N (seeded, so a run can be repeated) with a Wilson 95% interval for the
  score of the whole population;
* a coverage map made once with pytest-cov ``--cov-context=test`` (which test ran which line),
  saved to ``.mutation/map.json``; a mutant runs only the tests that ran its line (its
  statement's, for a line of a multi-line statement), fastest first, with ``-x``;
* a mutant whose line no test runs counts as survived; a mutant whose line only runs at import
  (module level, a ``def`` line's defaults, a decorator) gets every test that covers its file;
* a per-mutant timeout (twice the tests' recorded time plus a minute): a hang counts as killed,
  as in mutmut (its "timeout" is a caught mutant too);
* the file is restored after each mutant, always: in a ``finally``, on SIGTERM/SIGINT, and at the
  next start from ``.mutation/backup/`` if the process was killed outright;
* the ``EQUIVALENT`` table below: mutants that cannot change behaviour, each with its reason,
  reported apart and left out of the score.

The map leaves out the browser and ``slow`` tests (Chromium per mutant, kill/restart loops)
and whatever runs only in subprocesses the tests start: the score is for the in-process tests.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
MAP = WORK / "map.json"
LAST = WORK / "last-run.json"
BACKUP = WORK / "backup"
TREES = ("engine", "plugins/coordination", "plugins/verification")
#: the tests the map is made from (browser and slow tests excluded: see the docstring)
MAP_TESTS = [
    "tests/*.py",
    "tests/coordination",
    "tests/verification",
    "tests/web",
    "tests/process_admin",
    "tests/socialization",
]
MAP_MARKERS = "not browser and not slow"
DEFAULT_SEED = 15  # the number: any fixed seed makes a run repeatable
#: statuses that count against the score
SURVIVORS = ("survived", "uncovered", "over-budget")

#: Mutants that cannot change what the program does, by (file, original line, mutated line)
#: (both stripped), so that the key survives code moving up or down.  Reason in the value.
#: A fourth item, the innermost function's name, narrows a key to the mutants in that function.
EQUIVALENT: dict[tuple[str, ...], str] = {
    (
        "engine/models.py",
        "lock_version: Mapped[int] = mapped_column(Integer, default=0)",
        "lock_version: Mapped[int] = mapped_column(Integer, default=1)",
    ): "start_case always sets lock_version=0 itself; the column default is never used",
    (
        "engine/forms.py",
        "break",
        "continue",
    ): "_feel_tokens: its one caller (feel_hidden) strips the expression, so the rest is never whitespace only",
    (
        "engine/stats.py",
        'def figure_filter(stmt, figure: dict, now: datetime | None = None, tz="UTC"):',
        'def figure_filter(stmt, figure: dict, now: datetime | None = None, tz="XXUTCXX"):',
    ): "the default is never used: the one caller (cases.list_cases) passes the node's timezone",
    (
        "engine/models.py",
        "office_code: Mapped[str | None] = mapped_column(String(16), nullable=True)",
        "office_code: Mapped[str | None] = None",
    ): "SQLAlchemy maps the annotation to the same nullable string column; its length is the "
    "migrations' (the tables come from Alembic, not from the model)",
    (
        "plugins/verification/web.py",
        'best = request.accept_mimetypes.best_match(["text/html", "application/json"])',
        'best = request.accept_mimetypes.best_match(["XXtext/htmlXX", "application/json"])',
    ): "_wants_json also needs JSON's quality above text/html's, which decides alone: the best match "
    "is JSON exactly when that holds, whichever other type is listed first",
    (
        "engine/backup.py",
        'code = "database_damaged"',
        'code = "XXdatabase_damagedXX"',
    ): "DatabaseDamaged is raised only at start-up (create_app, simpul worker), before any request "
    "whose error answer would carry the code; the CLI shows the message, not the code",
    (
        "engine/worker.py",
        "listener.ready.wait(5.0)",
        "listener.ready.wait(6.0)",
    ): "how long the worker waits for its LISTEN connection before it loops anyway (polling meanwhile): "
    "a second more only when PostgreSQL does not answer",
    (
        "engine/_workflow.py",
        "self._settled = None",
        'self._settled = ""',
        "run_service_task",
    ): "in run_service_task only: its one caller (the worker) "
    "calls advance() next, which resets _settled before anything reads it; a failing service raises out",
    (
        "engine/actors.py",
        'def system(cls, name: str = "system") -> Actor:',
        'def system(cls, name: str = "XXsystemXX") -> Actor:',
    ): "the default name is never used: every caller names the system actor (worker, cli, coordination, "
    "office:CODE, a plugin's name); cli/__init__ calls Actor.system() only for its roles",
    (
        "engine/wakeup.py",
        'work, self._local.work = getattr(self._local, "work", False), False',
        'work, self._local.work = getattr(self._local, "work", False), True',
    ): "the flag is read only by end() of an outermost transaction, and begin() of every outermost "
    "transaction clears it first (_seen sets it only inside one): what end() leaves is never read",
    (
        "engine/models_accounts.py",
        "ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)",
        "ended_at: Mapped[datetime | None] = None",
    ): "a session's ended_at is only written (utcnow(), already UTC, so SQLite stores the same text "
    "without the decorator) and only ever tested against NULL (auth.py): no code reads the time back",
}


@dataclass
class Mutant:
    file: str
    line_number: int  # 0-based, as mutmut numbers them
    index: int
    line: str

    @property
    def key(self) -> str:
        return f"{self.file}:{self.line_number + 1}:{self.index}"

    def mutation_id(self):
        from mutmut import RelativeMutationID

        return RelativeMutationID(line=self.line, index=self.index, line_number=self.line_number, filename=self.file)


# --- which files, which mutants ------------------------------------------------------------------


def _pure_data(tree: ast.Module) -> bool:
    """A module of imports and assignments only (no function, class or lambda): nothing to test."""
    return not any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) for n in ast.walk(tree)
    )


def scoped_files() -> list[str]:
    files = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or _pure_data(ast.parse(path.read_text())):
                continue
            files.append(relative)
    return files


def list_mutants(files: list[str]) -> list[Mutant]:
    from mutmut import Context, list_mutations

    mutants = []
    for relative in files:
        source = (ROOT / relative).read_text()
        for mid in list_mutations(Context(source=source, filename=relative)):
            mutants.append(Mutant(relative, mid.line_number, mid.index, mid.line))
    return mutants


def mutated_source(mutant: Mutant, source: str) -> str:
    from mutmut import Context, mutate

    context = Context(source=source, mutation_id=mutant.mutation_id(), filename=mutant.file)
    text, count = mutate(context)
    if count != 1:
        raise RuntimeError(f"{mutant.key}: mutmut applied {count} mutations")
    return text


def diff_of(mutant: Mutant, source: str, mutated: str) -> tuple[str, str, str]:
    """(unified diff, original line, mutated line) for display and the EQUIVALENT key."""
    a, b = source.splitlines(), mutated.splitlines()
    diff = "\n".join(difflib.unified_diff(a, b, mutant.file, mutant.file, n=1, lineterm=""))
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return diff, " / ".join(removed), " / ".join(added)


# --- the coverage map ----------------------------------------------------------------------------


def _map_command(junit: Path) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", MAP_MARKERS]
    command += [f"--cov={tree}" for tree in TREES]
    return command + ["--cov-context=test", "--cov-report=", f"--junitxml={junit}"]


def build_map(workers: int) -> None:
    """Run the map's tests once under pytest-cov with a context per test, then save which test
    ran which line (and each test's time, from the JUnit report) to ``.mutation/map.json``."""
    WORK.mkdir(exist_ok=True)
    data_file, junit = WORK / "coverage", WORK / "junit.xml"
    command = _map_command(junit)
    if workers > 1:
        command += ["-n", str(workers)]
    tests = [str(p.relative_to(ROOT)) for pattern in MAP_TESTS for p in sorted(ROOT.glob(pattern))]
    started = time.monotonic()
    subprocess.run(command + tests, cwd=ROOT, env={**os.environ, "COVERAGE_FILE": str(data_file)}, check=False)
    print(f"map run: {time.monotonic() - started:.0f} s")
    convert_map(data_file, junit)


def add_to_map(tests: list[str]) -> None:
    """Run these tests (new ones, say) under coverage and add what they ran to the saved map,
    instead of making the whole map again."""
    data_file, junit = WORK / "coverage-add", WORK / "junit-add.xml"
    data_file.unlink(missing_ok=True)
    subprocess.run(_map_command(junit) + tests, cwd=ROOT, env={**os.environ, "COVERAGE_FILE": str(data_file)})
    saved = json.loads(MAP.read_text())
    convert_map(data_file, junit, into=saved)


def _junit_times(junit: Path) -> tuple[dict[str, float], set[str]]:
    """Per test (as ``classname::name``) its time, and the tests that did not pass."""
    times, bad = {}, set()
    for case in ET.parse(junit).iter("testcase"):
        key = f"{case.get('classname')}::{case.get('name')}"
        times[key] = float(case.get("time") or 0)
        if any(child.tag in ("failure", "error", "skipped") for child in case):
            bad.add(key)
    return times, bad


def _junit_key(nodeid: str) -> str:
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::")
    return ".".join([path.removesuffix(".py").replace("/", "."), *parts[:-1]]) + "::" + parts[-1]


def convert_map(data_file: Path, junit: Path, into: dict | None = None) -> None:
    from coverage import CoverageData

    data = CoverageData(basename=str(data_file))
    data.read()
    times, bad = _junit_times(junit)
    tests: dict[str, float] = into["tests"] if into else {}
    files: dict[str, dict[str, list[str]]] = into["files"] if into else {}
    for measured in data.measured_files():
        relative = Path(measured).resolve().relative_to(ROOT).as_posix()
        lines: dict[str, list[str]] = files.setdefault(relative, {})
        for lineno, contexts in (data.contexts_by_lineno(measured) or {}).items():
            ids = set()
            for context in contexts:
                nodeid = context.rpartition("|")[0] if "|" in context else context
                if not nodeid:
                    ids.add("")  # run at import, before any test
                    continue
                key = _junit_key(nodeid)
                if key in bad:
                    continue  # a test that failed or was skipped in the map run kills nothing
                tests[nodeid] = times.get(key, 1.0)
                ids.add(nodeid)
            lines[str(lineno)] = sorted(ids.union(lines.get(str(lineno), ())))
    MAP.write_text(json.dumps({"tests": tests, "files": files}))
    print(f"map: {len(tests)} tests, {len(files)} files -> {MAP.relative_to(ROOT)}")


# --- which tests for a mutant --------------------------------------------------------------------


class TestChooser:
    def __init__(self, coverage_map: dict):
        self.times: dict[str, float] = coverage_map["tests"]
        self.files: dict[str, dict[str, list[str]]] = coverage_map["files"]
        self._statements: dict[str, list[tuple[int, int]]] = {}

    def _lines_of_statement(self, file: str, lineno: int) -> range:
        """The lines of the innermost statement holding ``lineno`` (a compound statement's header
        only): coverage may record a multi-line statement on another of its lines."""
        if file not in self._statements:
            spans = []
            for node in ast.walk(ast.parse((ROOT / file).read_text())):
                if isinstance(node, ast.stmt):
                    end = node.end_lineno or node.lineno
                    body = getattr(node, "body", None)
                    if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                        end = max(node.lineno, body[0].lineno - 1)
                    spans.append((node.lineno, end))
            self._statements[file] = spans
        holding = [s for s in self._statements[file] if s[0] <= lineno <= s[1]]
        if not holding:
            return range(lineno, lineno + 1)
        start, end = min(holding, key=lambda s: s[1] - s[0])
        return range(start, end + 1)

    def tests_for(self, mutant: Mutant) -> list[str]:
        lines = self.files.get(mutant.file, {})
        ids: set[str] = set()
        for lineno in self._lines_of_statement(mutant.file, mutant.line_number + 1):
            ids.update(lines.get(str(lineno), ()))
        if "" in ids:
            # runs at import: a default, a decorator, a constant: every test of this file, or of
            # the files importing it when no test runs a line of it (a module of table classes)
            ids = self._tests_of(mutant.file)
            if not ids:
                ids = set().union(*(self._tests_of(f) for f in self._importers(mutant.file)))
        ids.discard("")
        return sorted(ids, key=lambda t: (self.times.get(t, 1.0), t))

    def _tests_of(self, file: str) -> set[str]:
        return {t for covering in self.files.get(file, {}).values() for t in covering} - {""}

    def _importers(self, file: str) -> list[str]:
        """The scoped files that import ``file`` (relative or as ``simpul.…``)."""
        module = file.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        importers = []
        for other in self.files:
            if other == file or not other.endswith(".py") or not (ROOT / other).is_file():
                continue
            package = other.removesuffix(".py").replace("/", ".").rsplit(".", 1)[0]
            for node in ast.walk(ast.parse((ROOT / other).read_text())):
                names: list[str] = []
                if isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                        base = f"{parent}.{base}" if base else parent
                    base = base.removeprefix("simpul.")
                    names = [base] + [f"{base}.{alias.name}" for alias in node.names]
                elif isinstance(node, ast.Import):
                    names = [alias.name.removeprefix("simpul.") for alias in node.names]
                if module in names:
                    importers.append(other)
                    break
        return importers


# --- running one mutant --------------------------------------------------------------------------


class _Stop(Exception):
    pass


def _on_signal(signum, frame):
    raise _Stop(signal.Signals(signum).name)


def restore_leftovers() -> None:
    """Put back any file a killed run left mutated (its original is in .mutation/backup/)."""
    if not BACKUP.is_dir():
        return
    for saved in BACKUP.rglob("*.py"):
        target = ROOT / saved.relative_to(BACKUP)
        shutil.copy2(saved, target)
        saved.unlink()
        print(f"restored {target.relative_to(ROOT)} left mutated by an interrupted run")


def run_tests(tests: list[str], timeout: float) -> str:
    """``killed``, ``survived`` or ``timeout`` for the tests as the tree is now."""
    args = WORK / "args.txt"
    args.write_text("\n".join(tests) + "\n")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=", f"@{args}"]
    # no .pyc of a mutant on disk: a restored file of the same size and second would reuse it
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        rc = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        return "timeout"
    except BaseException:
        _kill(process)
        raise
    if rc in (4, 5):
        return "unloadable"  # a usage error: a mutant that breaks conftest's imports, or a bad list
    return "survived" if rc == 0 else "killed"


def _tests_load(tests: list[str]) -> bool:
    """Whether pytest can collect these tests (with the original source in place)."""
    args = WORK / "args.txt"
    args.write_text("\n".join(tests) + "\n")
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    return subprocess.run(command + [f"@{args}"], cwd=ROOT, capture_output=True).returncode == 0


def _kill(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _function_at(source: str, lineno: int) -> str | None:
    """The name of the innermost function holding ``lineno``."""
    found = None
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= lineno <= (
            node.end_lineno or 0
        ):
            if found is None or node.lineno > found.lineno:
                found = node
    return found.name if found else None


def test_mutant(mutant: Mutant, chooser: TestChooser, budget: float | None = None) -> tuple[str, str, float]:
    """(status, diff, seconds): status is killed, survived, timeout, uncovered, equivalent or
    over-budget (``budget`` seconds ran out before the tests did: counted as a survivor)."""
    path = ROOT / mutant.file
    source = path.read_text()
    mutated = mutated_source(mutant, source)
    diff, before, after = diff_of(mutant, source, mutated)
    key = (mutant.file, before, after)
    if key in EQUIVALENT or (*key, _function_at(source, mutant.line_number + 1)) in EQUIVALENT:
        return "equivalent", diff, 0.0
    tests = chooser.tests_for(mutant)
    if not tests:
        return "uncovered", diff, 0.0
    timeout = 60 + 2 * sum(chooser.times.get(t, 1.0) for t in tests)
    cut_short = budget is not None and budget < timeout
    if cut_short:
        timeout = budget
    stat = path.stat()
    saved = BACKUP / mutant.file
    saved.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, saved)
    started = time.monotonic()
    try:
        path.write_text(mutated)
        status = run_tests(tests, timeout)
        if status == "timeout" and cut_short:
            status = "over-budget"  # not a hang: --budget ran out before the tests did
    finally:
        path.write_text(source)
        # the original's mtime back, so its .pyc in __pycache__ is valid again
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        saved.unlink()
    if status == "unloadable":
        if not _tests_load(tests):
            raise RuntimeError(f"{mutant.key}: pytest cannot load the chosen tests even unmutated")
        status = "killed"  # the mutant broke an import that conftest needs: every test fails
    return status, diff, time.monotonic() - started


# --- the score -----------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def score_line(results: list[dict]) -> str:
    """``killed=K survived=S timeout=T score=P% (95% CI a-b%)``: a timeout is a caught mutant, an
    uncovered one a survivor, an equivalent one is not counted."""
    statuses = [r["status"] for r in results]
    kinds = ("killed", "survived", "uncovered", "over-budget", "timeout", "equivalent")
    count = {s: statuses.count(s) for s in kinds}
    caught = count["killed"] + count["timeout"]
    survived = count["survived"] + count["uncovered"] + count["over-budget"]
    low, high = wilson(caught, caught + survived)
    score = 100 * caught / (caught + survived) if caught + survived else 0.0
    return (
        f"killed={count['killed']} survived={survived} timeout={count['timeout']} score={score:.1f}% "
        f"(95% CI {100 * low:.1f}-{100 * high:.1f}%)  [{count['uncovered']} of the survivors on lines no "
        f"test runs, {count['over-budget']} over --budget; {count['equivalent']} equivalent excluded]"
    )


def choose_sample(options, population: list[Mutant], parser) -> tuple[list[Mutant], list[dict]]:
    """The mutants to test now, and the results of the last run that --resume keeps."""
    if options.survivors:
        last = json.loads(LAST.read_text())
        keys = {r["key"] for r in last["results"] if r["status"] in SURVIVORS}
        sample = [m for m in population if m.key in keys]
        if len(sample) != len(keys):
            print(f"note: {len(keys) - len(sample)} survivor(s) of the last run no longer exist (code changed)")
    else:
        sample = random.Random(options.seed).sample(population, min(options.n, len(population)))
    done: list[dict] = []
    if options.resume:
        last = json.loads(LAST.read_text())
        if (last["seed"], last["n"], last["only"]) != (options.seed, options.n, options.only):
            parser.error(f"the last run was seed {last['seed']}, -n {last['n']}, --only {last['only']}")
        done = last["results"]
        sample = [m for m in sample if m.key not in {r["key"] for r in done}]
    return sample, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="how many mutants to draw (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--map", type=Path, default=MAP, help="coverage map to reuse (default .mutation/map.json)")
    parser.add_argument("--build-map", action="store_true", help="run the tests once under coverage, then stop")
    parser.add_argument("--add-to-map", nargs="+", metavar="TEST", help="add these tests to the map, then stop")
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers for --build-map only")
    parser.add_argument("--only", metavar="FILE", help="draw only from this file's mutants")
    parser.add_argument("--survivors", action="store_true", help="re-run the last run's survivors")
    parser.add_argument("--resume", action="store_true", help="go on with the last (interrupted) run's sample")
    parser.add_argument(
        "--budget", type=float, help="seconds at most per mutant; one not decided by then counts as survived"
    )
    parser.add_argument("--list", action="store_true", help="count the mutants per file and stop")
    options = parser.parse_args(argv)

    os.chdir(ROOT)
    WORK.mkdir(exist_ok=True)
    restore_leftovers()
    if options.build_map:
        build_map(options.workers)
        return 0
    if options.add_to_map:
        add_to_map(options.add_to_map)
        return 0

    files = scoped_files()
    if options.only:
        only = Path(options.only).resolve().relative_to(ROOT).as_posix()
        if only not in files:
            parser.error(f"{options.only} is not one of the mutated files")
        files = [only]
    population = list_mutants(files)
    if options.list:
        for file in files:
            print(sum(m.file == file for m in population), file)
        print(len(population), "mutants")
        return 0

    sample, done = choose_sample(options, population, parser)
    print(f"{len(population)} mutants in {len(files)} files; testing {len(sample)} (seed {options.seed})", flush=True)

    chooser = TestChooser(json.loads(options.map.read_text()))
    results: list[dict] = []
    run = {"seed": options.seed, "n": options.n, "only": options.only, "results": done}
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    started = time.monotonic()
    try:
        for number, mutant in enumerate(sample, 1):
            status, diff, seconds = test_mutant(mutant, chooser, options.budget)
            results.append({"key": mutant.key, "status": status, "seconds": round(seconds, 1), "diff": diff})
            if not options.survivors:  # saved as it goes: --resume goes on from here
                run["results"] = done + results
                LAST.write_text(json.dumps(run, indent=1))
            print(f"[{number}/{len(sample)}] {mutant.key} {status} ({seconds:.0f} s)", flush=True)
            if status in SURVIVORS:
                print(diff, flush=True)
    except (KeyboardInterrupt, _Stop) as stop:
        print(f"stopped ({type(stop).__name__}); the mutated file was restored; partial score:")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

    survivors = [r for r in results if r["status"] in SURVIVORS]
    if survivors:
        print("\nsurvivors:")
        for r in survivors:
            print(f"  {r['key']} ({r['status']})")
    print(score_line(done + results))
    print(f"took {time.monotonic() - started:.0f} s")
    if options.survivors:
        # the re-run's statuses replace the earlier ones, so the sample's score is current
        fresh = {r["key"]: r for r in results}
        last = json.loads(LAST.read_text())
        last["results"] = [fresh.get(r["key"], r) for r in last["results"]]
        LAST.write_text(json.dumps(last, indent=1))
        print("the whole sample now:", score_line(last["results"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
