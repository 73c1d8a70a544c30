"""`kioskctl central-sim` as a real process, and its flags."""

import httpx
from typer.testing import CliRunner

from kioskctl.cli import app
from simulators.stack import services
from tests.harness.stack import supervised


def test_flags_reach_the_config(monkeypatch):
    seen = {}

    def fake_serve(config, host, port, log_level):
        seen.update(config=config, host=host, port=port, log_level=log_level)

    monkeypatch.setattr("simulators.central.main.serve", fake_serve)
    result = CliRunner().invoke(app, [
        "central-sim", "--host", "0.0.0.0", "--port", "9123", "--seed", "7",
        "--population", "300", "--api-key", "k1", "--today", "2026-01-31"])
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 9123)
    assert (config.seed, config.population, config.api_key) == (7, 300, "k1")
    assert config.today.isoformat() == "2026-01-31"

    result = CliRunner().invoke(app, ["central-sim", "--million"])
    assert result.exit_code == 0, result.output
    assert seen["config"].population == 1_000_000

    result = CliRunner().invoke(app, ["central-sim", "--today", "31.01.2026"])
    assert result.exit_code != 0


def test_real_process_serves_the_contract_and_logs_no_ids(tmp_path):
    with supervised(tmp_path / "logs") as sup:
        spec = services.central_sim(seed=11, population=400, api_key="proc-key",
                                    today="2026-11-22")
        proc = sup.start(spec.spec)
        base = spec.url
        person = httpx.get(f"{base}/sim/v1/citizens/5").json()
        r = httpx.post(f"{base}/central/v1/persons/query",
                       json={"citizen_id": person["citizen_id"]},
                       headers={"Authorization": "Bearer proc-key"})
        assert r.status_code == 200
        assert r.json()["person"]["name"] == person["name"]
        r = httpx.post(f"{base}/central/v1/persons/query",
                       json={"citizen_id": person["citizen_id"]},
                       headers={"Authorization": "Bearer central-dev-key"})
        assert r.status_code == 401
        sup.stop_all()
        log = proc.log_path.read_text()
        assert "/central/v1/persons/query" in log, "the access log goes through our handler"
        assert person["citizen_id"] not in log
        assert person["name"] not in log
