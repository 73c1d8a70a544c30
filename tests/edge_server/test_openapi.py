"""The OpenAPI document says what the server does (edge_server/openapi.py), and schemathesis,
with every check, finds nothing against a real edge process."""

import subprocess
import sys
from pathlib import Path

import pytest

from edge_server.main import create_app
from edge_server.settings import EdgeSettings
from simulators.stack import services
from tests.edge_server.support import HALL_SECRET, contract_token
from tests.harness.stack import supervised

CONFIG = Path(__file__).with_name("schemathesis.toml")
PROBLEM_REF = {"$ref": "#/components/schemas/ProblemView"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    settings = EdgeSettings(data_dir=tmp, hall_secret="x", central_api_key="k")
    return create_app(settings, background=False).openapi()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_error_is_documented_as_problem_json(spec):
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert response["content"] == {
                    "application/problem+json": {"schema": PROBLEM_REF}}, (path, method, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_idempotency_key_is_required_where_the_server_requires_it(spec):
    idempotent = set()
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                assert parameter["required"] is True
                assert parameter["schema"]["maxLength"] == 128
                idempotent.add((method, path))
    assert idempotent == {("post", "/api/v1/sessions"), ("delete", "/api/v1/sessions/{session_id}"),
                          ("post", "/api/v1/device/token"),
                          ("post", "/api/v1/sessions/{session_id}/applications"),
                          ("post", "/api/v1/card-loss/reports"),
                          ("post", "/api/v1/card-loss/reversals"),
                          ("post", "/api/v1/operator/outbox/dead-letters/{receipt_no}/retry"),
                          ("post", "/api/v1/sessions/{session_id}/certifications"),
                          ("post", "/api/v1/field/sessions"),
                          ("post", "/api/v1/sessions/{session_id}/certificates")}


def test_statuses_and_headers_of_each_operation(spec):
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        assert "Allow" in responses["405"]["headers"], (path, method)
        if operation.get("security"):
            assert "401" in responses
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses)
    identify = spec["paths"]["/api/v1/sessions"]["post"]["responses"]
    assert identify["429"]["headers"]["Retry-After"]["required"] is True
    assert identify["503"]["headers"]["Retry-After"]["required"] is True
    for path in ("/api/v1/card-loss/reports", "/api/v1/card-loss/reversals"):
        pin = spec["paths"][path]["post"]["responses"]
        assert pin["429"]["headers"]["Retry-After"]["required"] is True
        assert pin["503"]["headers"]["Retry-After"]["required"] is True, "outbox-full"
    apply = spec["paths"]["/api/v1/sessions/{session_id}/applications"]["post"]["responses"]
    assert "duplicate-application" in apply["409"]["description"]
    assert "Retry-After" in apply["503"]["headers"]
    assert spec["paths"]["/api/v1/sessions/{session_id}/applications"]["get"]
    receipt = spec["paths"]["/api/v1/submissions/{receipt_no}"]["get"]
    assert receipt["parameters"][0]["schema"]["pattern"].startswith("^R[0-9]{8}")
    body = spec["paths"]["/api/v1/sessions"]["post"]["requestBody"]["content"]
    card = spec["components"]["schemas"]["CardIdentity"]["properties"]
    assert list(body) == ["application/json"]
    assert card["citizen_id"]["maxLength"] == 32 and "pattern" in card["citizen_id"]
    schemas = spec["components"]["schemas"]
    assert schemas["LossReportRequest"]["properties"]["pin"]["pattern"] == "^[0-9]{6}$"
    form = schemas["ApplicationRequest"]["properties"]["form"]
    assert form["maxProperties"] == 4
    assert list(form["patternProperties"].values()) == [{"type": "string",
                                                         "pattern": "^[0-9]{1,32}$"}]


def test_schemathesis_with_all_checks_against_a_real_edge(tmp_path):
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=300)
        sup.start(central.spec)
        edge = services.edge(
            tmp_path / "edge", central_url=central.url, hall_secret=HALL_SECRET,
            # schemathesis identifies hundreds of times a second: lift the limit for it.
            extra_env={"EDGE_IDENTIFY_DEVICE_BURST": "1e9", "EDGE_IDENTIFY_HALL_BURST": "1e9"})
        sup.start(edge.spec)
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
             "run", f"{edge.url}/api/v1/openapi.json", "--checks", "all",
             "-H", f"Authorization: Bearer {contract_token('kiosk-01')}",
             "--max-examples", "12", "--seed", "20261201", "--workers", "1",
             "--generation-database", "none", "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=100, cwd=tmp_path, check=False,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.split("SUMMARY")[-1]
