import datetime as dt
import threading
import time

import httpx
from fastapi.testclient import TestClient

from edge_server.main import create_app
from edge_server.settings import EdgeSettings
from tests.edge_server.support import CENTRAL_KEY, HALL_SECRET


def test_health_needs_no_credential_and_reports_central(h):
    r = h.edge.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "version": "0.1.0", "central": "unknown",
                        "outbox": {"depth": 0, "oldest_pending_age_s": None, "dead_letters": 0,
                                   "full": False},
                        "cache_hit_ratio": None}
    h.open(h.citizen())
    assert h.edge.get("/api/v1/health").json()["central"] == "reachable"
    h.link.down = True
    h.clock.advance(600)
    h.open(h.citizen())
    assert h.edge.get("/api/v1/health").json()["central"] == "unreachable"


def test_background_probe_fills_in_reachability(tmp_path):
    probed = threading.Event()

    def central(request):
        if request.url.path == "/central/v1/card-blacklist/query":  # another loop's call
            return httpx.Response(200, json={
                "as_of": dt.datetime.now(dt.UTC).isoformat(), "items": [], "next": "c1",
                "more": False})
        assert request.url.path == "/central/v1/health"
        probed.set()
        return httpx.Response(200, json={"status": "ok", "as_of": "2026-11-22T00:00:00Z"})

    settings = EdgeSettings(data_dir=tmp_path, central_api_key=CENTRAL_KEY,
                            hall_secret=HALL_SECRET)
    http = httpx.Client(base_url="http://c", transport=httpx.MockTransport(central))
    with TestClient(create_app(settings, central_http=http)) as edge:
        assert probed.wait(10), "the probe runs at start-up"
        # A deadline-bounded poll: the probe's answer is recorded just after it returns.
        deadline = time.monotonic() + 10
        while edge.get("/api/v1/health").json()["central"] != "reachable":
            assert time.monotonic() < deadline


def test_openapi_is_served_under_the_api_prefix(h):
    spec = h.edge.get("/api/v1/openapi.json").json()
    assert spec["info"]["version"] == "0.1.0"
    assert {"/api/v1/health", "/api/v1/sessions", "/api/v1/sessions/{session_id}",
            "/api/v1/sessions/{session_id}/benefits"} <= set(spec["paths"])
    post = spec["paths"]["/api/v1/sessions"]["post"]
    assert any(p["name"].lower() == "idempotency-key" for p in post["parameters"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_unknown_route_is_a_problem(h):
    r = h.edge.get("/api/v1/nothing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_health_and_metrics_report_the_outbox_and_the_cache(h):
    from edge_server import outbox
    from edge_server.db import session_scope
    from edge_server.routers import health

    ctx = h.edge.app.state.edge
    cid = h.citizen(0)["citizen_id"]
    with session_scope(ctx.engine) as db:
        outbox.enqueue(ctx, db, device_id="kiosk-01", idempotency_key="k1", citizen_id=cid,
                       kind="card-loss-report", payload={"citizen_id": cid, "pin": "123456"})
    h.clock.advance(90)
    h.open(h.citizen(1))  # one cache miss
    ctx.central.reachability.mark(False)
    # /health answers from the relay's last count when it is recent; none yet here: it counts.
    assert health.OUTBOX_STATS_MAX_AGE_S > 0
    body = h.edge.get("/api/v1/health").json()
    assert body["outbox"] == {"depth": 1, "oldest_pending_age_s": 90.0, "dead_letters": 0,
                              "full": False}
    assert body["cache_hit_ratio"] == 0.0
    r = h.edge.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    values = {line.split()[0]: float(line.split()[1]) for line in r.text.splitlines()
              if line and not line.startswith("#")}
    assert values["edge_outbox_depth"] == 1
    assert values["edge_outbox_oldest_pending_age_seconds"] == 90
    assert values["edge_outbox_dead_letters"] == 0
    assert values["edge_central_reachable"] == 0
    assert values["edge_cache_misses_total"] >= 1 and values["edge_cache_hits_total"] == 0
    for name in ("edge_outbox_full_total", "edge_outbox_sent_total",
                 "edge_central_bad_answers_total"):
        assert values[name] == 0
        assert f"# TYPE {name} counter" in r.text
    assert cid not in r.text
