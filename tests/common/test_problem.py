import pytest

from common.problem import TYPE_BASE, Problem, parse_problem


def test_body_carries_type_code_and_extras():
    body = Problem(503, "central-unavailable", "Central down", retry_after=30).body("/api/v1/x")
    assert body["type"] == TYPE_BASE + "central-unavailable"
    assert body["status"] == 503 and body["instance"] == "/api/v1/x" and body["retry_after"] == 30


def test_parse_problem_reads_our_bodies():
    assert parse_problem(Problem(404, "not-found", "Nope").body()) == ("not-found", "Nope")


@pytest.mark.parametrize(
    "body",
    [None, [], "x", {}, {"code": 5}, {"code": ""}, {"code": "x" * 65}, {"code": "a", "title": 3}],
)
def test_parse_problem_refuses_what_is_not_ours(body):
    assert parse_problem(body) is None


def test_parse_problem_bounds_the_title():
    assert parse_problem({"code": "a", "title": "t" * 10_000}) == ("a", "t" * 200)


def test_common_imports_no_web_framework():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "common"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            for name in names:
                assert name.split(".")[0] not in {"fastapi", "starlette", "uvicorn"}, path
