"""The full new-card case and its regency case over the JSON API against a real ``simpul run``.

    .venv/bin/python bench/http_api.py                  # 1 and 4 clients, 10 cases each
    .venv/bin/python bench/http_api.py --cases 20 --clients 1 4

(The issue calls it ``bench/http.py``; it is ``bench/http_api.py`` because Python puts a
script's folder first on ``sys.path``, and a ``bench/http.py`` would stand in for the
standard library's ``http`` package in every benchmark here, breaking Flask, werkzeug and
urllib in ``bench/scale.py`` and the rest.)

One embedded node on SQLite (the kecamatan and the regency on one PC, as the demo: the
regency case is opened and answered by local delivery, through the same outbox and worker
as between two nodes).  Each client starts new cards with bearer tokens and works every
step of both cases -- the kecamatan's and the regency's -- as a clerk does: one look at the
worklist of the user whose step it is (``GET /api/v1/tasks``), then ``.../complete``, until
the card is handed over.  While the worker moves a case between offices there is no step
to take; the client waits for the next one by reading the SQLite file itself (read-only,
every few ms), not by asking the server, so the server's CPU holds no polling a clerk would
not do (``--poll-server`` polls the worklist API every 20 ms instead, as this benchmark once
did, and counts those requests).  Printed, one ``name=value`` a line, per client count
(prefixed ``c<N>_``):

* completions_per_s, complete_p50_ms, complete_p95_ms: task completions (and starts);
* worklist_p50_ms, worklist_p95_ms: ``GET /api/v1/tasks``;
* worklist_requests_per_completion: those reads per completion (1.0: no polling);
* cpu_ms_per_completion: the CPU of the server and every process under it (its sandbox
  workers: utime + stime + the reaped children's, from /proc/<pid>/stat) per completion,
  after ``--warmup`` cases (default 1) that pay the node's one-off start;
* db_bytes_per_finished_case: growth of the VACUUMed SQLite file per finished case (both
  cases of a new card counted);
* server_rss_mb: the server's resident memory at the end (/proc/<pid>/status).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.flows import RESIDENT, STEP_DATA  # noqa: E402  (the new card's seed data, shared)

SIMPUL = str(Path(sys.executable).with_name("simpul"))
USERS = ("operator", "verifier", "disdukcapil")
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_ms(pid: int) -> float:
    """CPU of ``pid`` and every process under it (utime, stime, cutime, cstime), in ms."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = _stat(current)
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])
        todo.extend(children.get(current, ()))
    return total * 1000 / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def vacuumed_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("VACUUM")
    finally:
        conn.close()
    return path.stat().st_size


class Api:
    """One user's bearer token; each client thread keeps its own connection open between
    requests, as a browser does (``--no-keepalive``: a new connection for every request)."""

    keepalive = True

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token
        self.host, self.port = base.removeprefix("http://").split(":")
        self._local = threading.local()

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + self.token}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if not self.keepalive:
            headers["Connection"] = "close"
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            self._local.conn = None
            conn.close()
            raise
        if not self.keepalive or response.getheader("Connection", "").lower() == "close":
            self._local.conn = None
            conn.close()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return json.loads(payload)


def next_step(db: sqlite3.Connection, nik: str) -> str | None:
    """The open step of the new card ``nik`` (or its regency case), read off the database."""
    row = db.execute(
        "SELECT h.step FROM human_tasks h JOIN cases c ON c.id = h.case_id WHERE c.resident_nik = ? LIMIT 1", (nik,)
    ).fetchone()
    return row[0] if row else None


def work_case(apis: dict, k: int, timings: dict, lock: threading.Lock, db_path: Path | None) -> int:
    """One new card and its regency case, every step through the API; the completions done."""
    name, nik = f"Warga Bench {k}", f"640205450700{k:04d}"
    t0 = time.perf_counter()
    apis["operator"].call(
        "POST", "/api/v1/cases", {"process": "ektp_new_card", "data": {"nik": nik, "resident_name": name, **RESIDENT}}
    )
    with lock:
        timings["complete"].append((time.perf_counter() - t0) * 1000)
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) if db_path else None
    done, deadline = 1, time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if db is not None:
                step = next_step(db, nik)
                if step is None:
                    time.sleep(0.005)  # the worker is moving the case between offices
                    continue
                users = [STEP_DATA[step][0]]
            else:
                users = list(USERS)
            found = None
            for user in users:
                t0 = time.perf_counter()
                page = apis[user].call("GET", "/api/v1/tasks?view=roles&per_page=200")
                with lock:
                    timings["worklist"].append((time.perf_counter() - t0) * 1000)
                found = next((t for t in page["items"] if t["resident_name"] == name), None)
                if found:
                    break
            if found is None:
                time.sleep(0.02)  # the worker is moving the case between offices
                continue
            who, data = STEP_DATA[found["step"]]
            t0 = time.perf_counter()
            apis[who].call("POST", f"/api/v1/tasks/{found['id']}/complete", {"data": data, "version": found["version"]})
            with lock:
                timings["complete"].append((time.perf_counter() - t0) * 1000)
            done += 1
            if found["step"] == "Task_handover":
                return done
    finally:
        if db is not None:
            db.close()
    raise RuntimeError(f"case {k} did not finish")


def p(values, q: float) -> float:
    values = sorted(values)
    return values[max(0, int(round(q * len(values))) - 1)] if values else 0.0


def run_once(
    clients: int, cases: int, first: int, tmp: Path, poll_server: bool = False, warmup: int = 1, profile=None
) -> dict:
    db = tmp / f"bench-{clients}.db"
    env = {
        **os.environ,
        "SIMPUL_DATABASE_URL": f"sqlite:///{db}",
        "SIMPUL_INSTANCE_PATH": str(tmp / f"instance-{clients}"),
    }
    subprocess.run([SIMPUL, "init", "--demo"], env=env, check=True, capture_output=True)
    tokens = {
        u: subprocess.run(
            [SIMPUL, "users", "token", u, "--name", "bench"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        for u in USERS
    }
    baseline = vacuumed_size(db)
    port = free_port()
    server = subprocess.Popen(
        [SIMPUL, "run", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("simpul run did not start") from None
                time.sleep(0.1)
        apis = {u: Api(base, t) for u, t in tokens.items()}
        timings, lock, completions = {"complete": [], "worklist": []}, threading.Lock(), []
        # Warm-up, not measured: the first cases pay the node's one-off start (the sandbox
        # pool's forkserver and workers, the parsed specs, the caches) -- a day's first clerk
        # pays it once, not on every step.
        for w in range(warmup):
            work_case(apis, first - 1 - w, {"complete": [], "worklist": []}, lock, None if poll_server else db)
        spy = None
        if profile:  # py-spy samples the server while it is measured (collapsed stacks, for flame graphs)
            out = f"{profile}-c{clients}.txt"
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--format", "raw", "-o", out])
        cpu0, t0 = cpu_ms(server.pid), time.perf_counter()

        def client(c):
            count = 0
            for i in range(cases):
                count += work_case(apis, first + c * cases + i, timings, lock, None if poll_server else db)
            completions.append(count)

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall, cpu = time.perf_counter() - t0, cpu_ms(server.pid) - cpu0
        rss = rss_mb(server.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
    finally:
        server.terminate()
        server.wait(20)
    total = sum(completions)
    if total != clients * cases * 10:  # the start, 5 steps at the kecamatan, 4 at the regency
        raise RuntimeError(f"{total} completions, expected {clients * cases * 10}")
    return {
        "completions_per_s": round(total / wall, 1),
        "complete_p50_ms": round(statistics.median(timings["complete"]), 1),
        "complete_p95_ms": round(p(timings["complete"], 0.95), 1),
        "worklist_p50_ms": round(statistics.median(timings["worklist"]), 1),
        "worklist_p95_ms": round(p(timings["worklist"], 0.95), 1),
        "worklist_requests_per_completion": round(len(timings["worklist"]) / total, 2),
        "cpu_ms_per_completion": round(cpu / total, 2),
        "db_bytes_per_finished_case": (vacuumed_size(db) - baseline) // (2 * (clients * cases + warmup)),
        "server_rss_mb": round(rss, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10, help="new cards per client")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--warmup", type=int, default=1, help="cases worked before measuring (the node's start)")
    parser.add_argument(
        "--no-keepalive", action="store_true", help="a new connection for every request (as urllib does)"
    )
    parser.add_argument(
        "--poll-server", action="store_true", help="wait for the worker by polling the worklist API every 20 ms"
    )
    parser.add_argument("--py-spy", metavar="PREFIX", help="sample the server with py-spy into PREFIX-c<N>.txt")
    args = parser.parse_args(argv)
    Api.keepalive = not args.no_keepalive
    with tempfile.TemporaryDirectory(prefix="simpul-http-") as tmp:
        for n, clients in enumerate(args.clients):
            first = 1000 * (n + 1)
            result = run_once(clients, args.cases, first, Path(tmp), args.poll_server, args.warmup, args.py_spy)
            for key, value in result.items():
                print(f"c{clients}_{key}={value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
