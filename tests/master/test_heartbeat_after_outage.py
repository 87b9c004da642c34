"""After a control-plane outage the master does not declare every node offline at once: a heartbeat
counts at most from when the master started watching (heartbeats could not be written meanwhile)."""

from __future__ import annotations

from osdn.master.probe import heartbeat_problem

NOW = 1704067205.0  # 2024-01-01T00:00:05Z
BEAT_60S_AGO = {"status": {"conditions": [{"type": "Ready", "status": "True",
                                           "lastHeartbeatTime": "2023-12-31T23:59:05Z"}]}}


def test_a_heartbeat_older_than_the_master_counts_from_its_start() -> None:
    assert heartbeat_problem(BEAT_60S_AGO, NOW, 40.0) is not None            # no restart: stale
    assert heartbeat_problem(BEAT_60S_AGO, NOW, 40.0, since=NOW - 10) is None  # master up 10 s: grace
    problem = heartbeat_problem(BEAT_60S_AGO, NOW, 40.0, since=NOW - 45)       # up 45 s, still silent
    assert problem == "no heartbeat for 60.0s (timeout 40.0s)"


def test_a_node_that_says_it_is_down_gets_no_grace() -> None:
    stopped = {"status": {"conditions": [{"type": "Ready", "status": "False", "message": "osdn node agent stopped"}]}}
    assert heartbeat_problem(stopped, NOW, 40.0, since=NOW) == "Node Ready condition is False: osdn node agent stopped"
