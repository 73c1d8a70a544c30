"""`kioskctl sim fleet run` as a real process against a real Mosquitto, misbehaving on request."""

from __future__ import annotations

import json
import subprocess

from simulators.stack import services
from simulators.stack.services import kioskctl
from tests.fleet.support import MqttProbe


def test_the_fleet_runs_and_misbehaves_on_request(mosquitto: services.Mosquitto,
                                                  probe: MqttProbe) -> None:
    probe.subscribe("hrss/v1/dev/+/+")
    done = subprocess.run(
        kioskctl("sim", "fleet", "run", "--broker-url", mosquitto.url, "--terminals", "40",
                 "--loops", "2", "--health-interval", "60", "--duration", "4",
                 "--misbehave-after", "1", "--kill", "2", "--late-wills", "1",
                 "--forged-deaths", "1", "--out-of-range", "seq", "--ghosts", "3"),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["all_online"] and summary["terminals"] == 40
    assert summary["misbehaviours"]["out_of_range"] == 40

    def on(channel: str) -> list:
        return probe.matching(lambda m: m.topic.endswith("/" + channel))

    births = on("birth")
    sims = {b.payload["device_id"] for b in births if b.payload["device_id"].startswith("SIM-")}
    assert len(sims) == 40
    assert len([b for b in births if b.payload["device_id"].startswith("GHOST-")]) == 3
    assert len([h for h in on("health") if h.payload["seq"] == 2**63]) == 40
    deaths = on("death")
    wills = [d for d in deaths if d.payload["reason"] == "will"]
    # 2 killed + 1 restarted for its late Will (the broker's) + that late Will + a forged one.
    assert len(wills) == 5
    assert [d for d in wills if d.payload["session_seq"] == 2**52]
    # The late Will came after the terminal's new birth.
    for w in wills:
        device = w.payload["device_id"]
        later = [b for b in births if b.payload["device_id"] == device
                 and b.payload["session_seq"] > w.payload["session_seq"]]
        if later and probe.messages.index(w) > probe.messages.index(later[-1]):
            break
    else:
        raise AssertionError("no Will arrived after a newer birth of its terminal")
    assert len([d for d in deaths if d.payload["reason"] == "shutdown"]) == 40
