"""The in-memory broker: filters, shared subscriptions, Wills."""

from __future__ import annotations

from simulators.fleet.memory import MemoryBroker, matches


def test_filters_match_like_mqtt() -> None:
    assert matches(("a", "+", "c"), "a/b/c")
    assert not matches(("a", "+"), "a/b/c")
    assert matches(("a", "#"), "a") and matches(("a", "#"), "a/b/c")


def test_shared_subscribers_split_messages_and_wills_fire_only_on_a_kill() -> None:
    broker = MemoryBroker()
    got: dict[str, list[str]] = {"m1": [], "m2": [], "all": []}
    for name in ("m1", "m2"):
        broker.connect(name, lambda t, _p, n=name: got[n].append(t)).subscribe("$share/g/d/#")
    broker.connect("all", lambda t, _p: got["all"].append(t)).subscribe("d/#")

    for i in range(4):
        broker.publish(f"d/{i}", b"")
    assert len(got["m1"]) == len(got["m2"]) == 2 and len(got["all"]) == 4

    clean = broker.connect("t1", will=("d/death/t1", b"will"))
    clean.disconnect()
    killed = broker.connect("t2", will=("d/death/t2", b"will"))
    killed.kill()
    taken_over = broker.connect("t3", will=("d/death/t3", b"will"))
    broker.connect("t3")  # same client id: the old session's Will fires
    assert [t for t in got["all"] if "death" in t] == ["d/death/t2", "d/death/t3"]
    assert not taken_over.open
