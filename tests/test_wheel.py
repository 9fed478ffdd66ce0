"""The wheel alone runs a node: built from this checkout, installed into a fresh venv in an
empty folder with no checkout beside it, as a regency would ``pip install simpul``.

One test walks the whole way, since each step needs the one before: build, install, inspect
site-packages, ``simpul init --demo``, ``simpul plugins``, ``simpul run`` answering with the
Indonesian sign-in and serving the modeler bundle to the administrator, then the Kutai
Kartanegara example plugin installed into the same venv.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "simpul-kutai-kartanegara"

pytestmark = pytest.mark.slow


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A browser-like HTTP client: cookies, and the CSRF token of the last form read."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")

    def post(self, path: str, fields: dict) -> tuple[int, str]:
        body = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base + path, data=body, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")


def _wait_until_serving(client: Client, server: subprocess.Popen, deadline: float) -> str:
    """Poll until the server answers (its readiness signal is answering at all)."""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"simpul run exited with {server.returncode}: {server.stdout.read()}")
        try:
            return client.get("/login")[1]
        except OSError:
            time.sleep(0.2)
    pytest.fail("simpul run did not answer within 60 s")


def test_the_wheel_alone_runs_a_node(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)])
    (wheel,) = dist.glob("simpul-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    _run([str(bin_dir / "pip"), "install", "--quiet", str(wheel)])
    site = Path(
        _run(
            [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    top_level = {p.name for p in site.iterdir()}
    assert "simpul" in top_level
    assert not top_level & {"engine", "web", "cli", "plugins", "processes", "translations"}, top_level

    node = tmp_path / "node"  # an empty folder: nothing of the checkout is reachable from here
    node.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIMPUL_", "PYTHON"))}
    env.update(SIMPUL_INSTANCE_PATH=str(node / "instance"), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}")
    simpul = str(bin_dir / "simpul")
    _run([simpul, "init", "--demo"], cwd=node, env=env)

    plugins = json.loads(_run([simpul, "plugins", "--json"], cwd=node, env=env).stdout)
    builtins = {p["name"]: p for p in plugins if p["builtin"]}
    assert set(builtins) == {"socialization", "verification", "coordination"}
    assert all(p["version"] for p in builtins.values()), builtins

    port = _free_port()
    server = subprocess.Popen(
        [simpul, "run", "--port", str(port)],
        cwd=node,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = Client(f"http://127.0.0.1:{port}")
        login = _wait_until_serving(client, server, time.monotonic() + 60)
        assert "<h1>Masuk</h1>" in login, login[:500]
        assert 'lang="id"' in login
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        client.post("/login", {"csrf_token": token, "next": "", "username": "admin", "password": "simpul-demo"})
        status, modeler = client.get("/admin/processes/ektp_new_card/edit")
        assert status == 200
        bundle = re.search(r'src="([^"]*vendor/process-admin/modeler\.js)"', modeler)
        assert bundle, "the modeler page does not load its bundle"
        status, script = client.get(bundle.group(1))
        assert status == 200 and len(script) > 100_000
        status, viewer = client.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
        assert status == 200 and "BpmnJS" in viewer
        status, charts = client.get("/static/vendor/echarts/echarts.min.js")  # the dashboard's charts
        assert status == 200 and "echarts" in charts
    finally:
        server.terminate()
        server.wait(timeout=30)

    # A regency's plugin installed into that venv: its rule applies, its labels are Indonesian.
    _run([str(bin_dir / "pip"), "install", "--quiet", str(EXAMPLE)], cwd=node, env=env)
    checklist = json.loads(
        _run(
            [simpul, "requirements", "ektp_replacement", "--json", "--data", json.dumps({"reason": "lost"})],
            cwd=node,
            env=env,
        ).stdout
    )
    assert [item["source"] for item in checklist if item["key"] == "police_letter"] == ["kukar"]
    shown = _run(
        [simpul, "requirements", "ektp_replacement", "--data", json.dumps({"reason": "lost"})], cwd=node, env=env
    ).stdout
    assert "kepolisian" in shown.lower(), shown
