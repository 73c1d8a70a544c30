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


def test_issue6_fault_flags_and_data_dir_reach_the_config(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("simulators.central.main.serve",
                        lambda config, *args: seen.update(config=config))
    result = CliRunner().invoke(app, [
        "central-sim", "--refuse-rate", "0.1", "--lose-response-rate", "0.2",
        "--duplicate-response-rate", "0.3", "--slow-body-ms", "400", "--error-rate", "0.05",
        "--outage-window", "2026-11-22T02:00:00Z/2026-11-22T02:30:00Z",
        "--outage-window", "2026-11-23T02:00:00+08:00/2026-11-23T03:00:00+08:00",
        "--data-dir", str(tmp_path / "state")])
    assert result.exit_code == 0, result.output
    config = seen["config"]
    f = config.faults
    assert (f.refuse_rate, f.lose_response_rate, f.duplicate_response_rate) == (0.1, 0.2, 0.3)
    assert (f.slow_body_ms, f.error_rate) == (400, 0.05)
    assert [(w.start.isoformat(), w.end.isoformat()) for w in f.outage_windows] == [
        ("2026-11-22T02:00:00+00:00", "2026-11-22T02:30:00+00:00"),
        ("2026-11-23T02:00:00+08:00", "2026-11-23T03:00:00+08:00")]
    assert config.data_dir == tmp_path / "state"
    for bad in (["--outage-window", "2026-11-22T02:00:00Z"],
                ["--outage-window", "2026-11-22T02:00:00/2026-11-22T03:00:00"],
                ["--outage-window", "2026-11-22T03:00:00Z/2026-11-22T02:00:00Z"],
                ["--refuse-rate", "1.5"]):
        assert CliRunner().invoke(app, ["central-sim", *bad]).exit_code != 0, bad


def test_state_survives_kill_9_with_the_same_data_dir(tmp_path):
    """Everything answered before a kill -9 is there after a restart on the same directory:
    submissions (a resend is a duplicate with the same record), card status, the counters."""
    from tests.simulators.central.builders import application, detail, item, pick

    auth = {"Authorization": "Bearer central-dev-key"}
    with supervised(tmp_path / "logs") as sup:
        central = services.central_sim(population=300, today="2026-11-22")
        spec = dataclasses.replace(central.spec, argv=[
            *central.spec.argv, "--data-dir", str(tmp_path / "state")])
        proc = sup.start(spec)
        with httpx.Client(base_url=central.url, timeout=10) as c:
            person = pick(c, eligible_for="skill-upgrade", card_status="normal")
            lost = pick(c, card_status="normal", receiving_pension=True)
            sent = [item(application(person)),
                    item({"citizen_id": lost["citizen_id"],
                          "pin": detail(c, lost)["service_pin"]}, kind="card-loss-report")]
            first = c.post("/central/v1/submissions", json={"items": sent}, headers=auth).json()
            assert [r["outcome"] for r in first["results"]] == ["recorded", "recorded"]
        proc.kill()
        assert not proc.alive()
        sup.start(spec)
        with httpx.Client(base_url=central.url, timeout=10) as c:
            again = c.post("/central/v1/submissions", json={"items": sent}, headers=auth).json()
            assert [r["outcome"] for r in again["results"]] == ["duplicate", "duplicate"]
            assert [r["record"] for r in again["results"]] == [
                r["record"] for r in first["results"]]
            person_now = c.post("/central/v1/persons/query",
                                json={"citizen_id": lost["citizen_id"]}, headers=auth).json()
            assert person_now["person"]["cards"][-1]["status"] == "reported-lost"
            assert c.get("/sim/v1/ingest").json() == {
                "received": 4, "recorded": 2, "duplicates": 2, "refused": 0, "conflicts": 0}
            assert c.get("/sim/v1/submissions").json()["total"] == 2
