"""The coordination settings are declared through the plugin contract and read through the
runtime: SIMPUL_PEERS and SIMPUL_SETTINGS both reach them, and nothing reads os.environ."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from simpul.engine import Config, PluginError, Runtime
from simpul.plugins.coordination.settings import settings_for


def node(tmp_path, environ):
    return Runtime(Config.from_env(environ, instance_path=tmp_path / "instance"))


def test_peers_from_the_environment_and_the_settings_are_merged(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMPUL_PEERS", json.dumps({"9999": {"url": "https://stray.example", "secret": "s"}}))
    environ = {
        "SIMPUL_OFFICE_CODE": "640205",
        "SIMPUL_PEERS": json.dumps({"6402": {"url": "https://reg.example/", "secret": "a"}}),
        "SIMPUL_SETTINGS": json.dumps(
            {"coordination": {"batch_size": 7, "peers": {"640206": {"url": "https://mj.example", "secret": "b"}}}}
        ),
    }
    settings = settings_for(node(tmp_path, environ))
    assert sorted(settings.peers) == ["6402", "640206"]  # the process environment itself is never read
    assert settings.peer("6402").url == "https://reg.example" and settings.batch_size == 7


def test_a_broken_peer_stops_the_node_at_start(tmp_path):
    with pytest.raises(PluginError, match="coordination settings"):
        node(tmp_path, {"SIMPUL_PEERS": json.dumps({"6402": {"url": "https://reg.example"}})})
    with pytest.raises(PluginError, match="SIMPUL_PEERS is not valid JSON"):
        node(tmp_path, {"SIMPUL_PEERS": "{not json"})


@pytest.mark.parametrize(
    "alert_after, sent_retention, expected",
    [
        ("PT6H30M", "P1DT12H", (timedelta(hours=6, minutes=30), timedelta(days=1, hours=12))),
        ("PT45S", "P2W", (timedelta(seconds=45), timedelta(days=14))),
        (5400, "3600", (timedelta(minutes=90), timedelta(hours=1))),
        ("", None, (timedelta(hours=6), timedelta(days=30))),
    ],
)
def test_durations_are_read_as_iso_8601_or_seconds(tmp_path, alert_after, sent_retention, expected):
    """How long a message may wait before the status page raises its alert, and how long sent
    messages are kept: an office writes them as ISO 8601 durations or as seconds."""
    coordination = {"alert_after": alert_after, "sent_retention": sent_retention}
    settings = settings_for(node(tmp_path, {"SIMPUL_SETTINGS": json.dumps({"coordination": coordination})}))
    assert (settings.alert_after, settings.sent_retention) == expected
