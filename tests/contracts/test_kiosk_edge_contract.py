"""The kiosk's own client models (kiosk/edge/models.py) against the edge server's OpenAPI.

The two sides are written independently (the kiosk may not import the server), so this is
where a renamed or dropped field shows before a citizen meets it.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from edge_server.main import create_app
from edge_server.settings import EdgeSettings
from kiosk.edge import models as edge_models
from kiosk.flow.identify.card import card_credential
from tests.kiosk.fakes import sample_card


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("edge")
    settings = EdgeSettings(
        database_url=f"sqlite:///{tmp / 'edge.db'}", hall_secret="contract", central_api_key="k",
        data_key_file=tmp / "data.key",
    )
    return create_app(settings).openapi()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    for key in ("anyOf", "allOf", "oneOf"):
        if key in schema:  # Optional[X] -> the non-null branch
            branches = [s for s in schema[key] if s.get("type") != "null"]
            if len(branches) == 1:
                return _resolve(spec, branches[0])
    return schema


def _response_schema(spec: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    response = spec["paths"][path][method]["responses"][status]
    return _resolve(spec, response["content"]["application/json"]["schema"])


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _mismatches(spec: dict[str, Any], model: type[BaseModel], schema: dict[str, Any],
                where: str) -> list[str]:
    problems = []
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    for name, field in model.model_fields.items():
        if name not in properties:
            problems.append(f"{where}.{name}: the edge does not send it")
            continue
        if field.is_required() and name not in required:
            problems.append(f"{where}.{name}: the kiosk requires it, the edge may omit it")
        nested = _nested_model(field.annotation)
        if nested is not None:
            sub = _resolve(spec, properties[name])
            if sub.get("type") == "array":
                sub = _resolve(spec, sub["items"])
            problems += _mismatches(spec, nested, sub, f"{where}.{name}")
    return problems


CASES = [
    (edge_models.SessionOpened, "post", "/api/v1/sessions", "201"),
    (edge_models.SessionOpened, "get", "/api/v1/sessions/{session_id}", "200"),
    (edge_models.Benefits, "get", "/api/v1/sessions/{session_id}/benefits", "200"),
    (edge_models.Contributions, "get", "/api/v1/sessions/{session_id}/contributions", "200"),
    (edge_models.PensionAccount, "get", "/api/v1/sessions/{session_id}/pension-account", "200"),
    (edge_models.EdgeHealth, "get", "/api/v1/health", "200"),
    (edge_models.Subsidies, "get", "/api/v1/sessions/{session_id}/subsidies", "200"),
    (edge_models.Precheck, "post", "/api/v1/sessions/{session_id}/applications/precheck", "200"),
    (edge_models.Receipt, "post", "/api/v1/sessions/{session_id}/applications", "201"),
    (edge_models.Applications, "get", "/api/v1/sessions/{session_id}/applications", "200"),
    (edge_models.CardStatus, "get", "/api/v1/sessions/{session_id}/card", "200"),
    (edge_models.Receipt, "post", "/api/v1/card-loss/reports", "201"),
    (edge_models.Receipt, "post", "/api/v1/card-loss/reversals", "201"),
    (edge_models.Receipt, "get", "/api/v1/submissions/{receipt_no}", "200"),
]
# POSTs that change nothing (a body too large for a URL): no Idempotency-Key (edge-api.md).
READ_ONLY_POSTS = {
    "/api/v1/sessions/{session_id}/applications/precheck",
    # Replaces the village's roster with a fresh download: twice is the same as once.
    "/api/v1/field/trips",
    # Checks an uploaded PDF's signature (public, for banks and employers): it changes nothing.
    "/verify/pdf",
    # A MAC for the card's current challenge: asked twice, the same MAC; the card changes.
    "/api/v1/cards/pin-authorisations",
}


@pytest.mark.parametrize(("model", "method", "path", "status"), CASES,
                         ids=[f"{m.__name__}-{v}-{p}" for m, v, p, _ in CASES])
def test_every_field_the_kiosk_reads_is_one_the_edge_sends(openapi, model, method, path, status):
    schema = _response_schema(openapi, method, path, status)
    assert _mismatches(openapi, model, schema, model.__name__) == []


def test_the_checker_notices_a_field_the_edge_does_not_send(openapi):
    class Renamed(BaseModel):
        session_ref: str

    schema = _response_schema(openapi, "post", "/api/v1/sessions", "201")
    assert _mismatches(openapi, Renamed, schema, "Renamed") == [
        "Renamed.session_ref: the edge does not send it"
    ]


def test_state_changing_routes_declare_the_idempotency_key(openapi):
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            if method in {"post", "put", "patch", "delete"} and path not in READ_ONLY_POSTS:
                headers = {p["name"].lower() for p in operation.get("parameters", ())
                           if p["in"] == "header"}
                assert "idempotency-key" in headers, f"{method.upper()} {path}"


def test_the_card_credential_the_kiosk_sends_is_what_the_edge_reads(openapi):
    body = _resolve(openapi, openapi["paths"]["/api/v1/sessions"]["post"]["requestBody"]
                    ["content"]["application/json"]["schema"])
    card = _resolve(openapi, body["properties"]["card"])
    sent = card_credential(sample_card()).body()
    assert set(sent) == set(body["required"]) | {"card"}
    # Every required field, and nothing the edge does not declare (data minimisation).
    assert set(card["required"]) <= set(sent["card"]) <= set(card["properties"])
