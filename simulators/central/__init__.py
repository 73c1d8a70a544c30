"""The central benefit platform, simulated: a synthetic population behind the contract in
docs/contracts/central-api.md."""
