"""Staged rollouts that stop themselves (docs/fleet.md, "Rollouts").

- `spec`: what an operator asks for (filter, groups, thresholds, rate, jitter, TTL), validated;
- `machine`: the I/O-free state machine (a pure function of stored state, job results, `now`);
- `store`: the database side, one locked transaction per step or operator action;
- `ticker`: the manager's thread that steps every unfinished rollout and publishes.
"""
