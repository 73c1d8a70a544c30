"""`kioskctl central-sim` as a real process, and its flags."""

import dataclasses

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


def test_fault_flags_set_the_starting_faults(monkeypatch):
    seen = {}
    monkeypatch.setattr("simulators.central.main.serve",
                        lambda config, *args: seen.update(config=config))
    result = CliRunner().invoke(app, [
        "central-sim", "--hostile", "trickle", "--trickle-interval-ms", "250",
        "--latency-ms", "10", "--outage"])
    assert result.exit_code == 0, result.output
    faults = seen["config"].faults
    assert (faults.hostile, faults.trickle_interval_ms) == ("trickle", 250)
    assert (faults.latency_ms, faults.outage) == (10, True)

    result = CliRunner().invoke(app, ["central-sim", "--hostile", "polite"])
    assert result.exit_code != 0 and "--hostile" in result.output


def test_the_cli_lists_every_hostile_mode():
    from simulators.central.cli import HOSTILE_MODES as CLI_MODES
    from simulators.central.faults import HOSTILE_MODES

    assert CLI_MODES == HOSTILE_MODES


def test_real_process_started_hostile_streams_an_oversized_answer(tmp_path):
    """`--hostile oversized`: 300 MB streamed without being built in memory; a caller that
    hangs up after the first megabyte does not stop the simulator answering others."""
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=200)
        sup.start(dataclasses.replace(
            central.spec, argv=[*central.spec.argv, "--hostile", "oversized"]))
        person = httpx.get(f"{central.url}/sim/v1/citizens/0").json()
        with httpx.stream("POST", f"{central.url}/central/v1/persons/query",
                          json={"citizen_id": person["citizen_id"]},
                          headers={"Authorization": "Bearer central-dev-key"}) as r:
            assert r.status_code == 200 and "content-length" not in r.headers
            received = 0
            for chunk in r.iter_raw():
                received += len(chunk)
                if received > 1024 * 1024:
                    break
        assert received > 1024 * 1024
        assert httpx.get(f"{central.url}/sim/v1/faults").json()["hostile"] == "oversized"
        assert httpx.get(f"{central.url}/central/v1/health").status_code == 200
