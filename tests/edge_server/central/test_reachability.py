from edge_server.central import ReachabilityTracker


def test_unknown_until_the_first_contact_then_the_last_one_counts():
    tracker = ReachabilityTracker()
    assert (tracker.state, tracker.age_s()) == ("unknown", None)
    tracker.mark(True)
    assert tracker.state == "reachable" and tracker.age_s() is not None
    tracker.mark(False)
    assert tracker.state == "unreachable"
