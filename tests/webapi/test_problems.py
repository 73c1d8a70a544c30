from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from common.problem import PROBLEM_JSON, Problem
from webapi.problems import install_problem_handlers


class Body(BaseModel):
    n: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/problem")
    def problem() -> None:
        raise Problem(503, "central-unavailable", "Down", retry_after=7)

    @app.post("/body")
    def body(b: Body) -> int:
        return b.n

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret 110105194912310021")

    return app


def test_every_error_is_problem_json():
    client = TestClient(_app(), raise_server_exceptions=False)
    r = client.get("/problem")
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
    assert r.headers["retry-after"] == "7" and r.json()["code"] == "central-unavailable"
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.json()["code"] == "not-found"
    r = client.post("/body", json={"n": "110105194912310021x"})
    assert r.status_code == 422 and r.json()["code"] == "validation-error"
    assert "110105194912310021" not in r.text  # submitted values are never echoed
    r = client.get("/boom")
    assert r.status_code == 500 and "secret" not in r.text
