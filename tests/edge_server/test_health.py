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
    assert r.json() == {"status": "ok", "version": "0.1.0", "central": "unknown"}
    h.open(h.citizen())
    assert h.edge.get("/api/v1/health").json()["central"] == "reachable"
    h.link.down = True
    h.clock.advance(600)
    h.open(h.citizen())
    assert h.edge.get("/api/v1/health").json()["central"] == "unreachable"


def test_background_probe_fills_in_reachability(tmp_path):
    probed = threading.Event()

    def central(request):
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
