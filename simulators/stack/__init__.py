"""Start and stop the stack's real processes: used by the demo and by the test harness."""
