"""Migration 0006: `issued_certificate` appears on upgrade and goes on downgrade, leaving the
rest of the schema as 0005 made it (the models-agree check is tests/edge_server/test_migrate)."""

from sqlalchemy import inspect

from common.sqlite import make_engine
from edge_server import migrate


def test_0006_adds_and_removes_the_certificates_table(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'edge.db'}")
    try:
        migrate.upgrade(engine, "0005")
        before = set(inspect(engine).get_table_names())
        migrate.upgrade(engine, "0006")
        tables = set(inspect(engine).get_table_names())
        assert tables - before == {"issued_certificate"}
        columns = {c["name"] for c in inspect(engine).get_columns("issued_certificate")}
        assert {"code", "nonce", "payload", "pdf_nonce", "pdf", "pdf_sha256",
                "download_sha256", "download_expires_at"} <= columns
        assert not {"name", "citizen_id"} & columns  # personal data only sealed
        migrate.downgrade(engine, "0005")
        assert set(inspect(engine).get_table_names()) == before
    finally:
        engine.dispose()

