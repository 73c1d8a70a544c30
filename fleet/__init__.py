"""Fleet management: the MQTT protocol shared by agent and manager (`fleet.protocol`), the agent
that runs on every terminal (`fleet.agent`) and the fleet manager (`fleet.manager`).

The version every part reports is `common.version.__version__` (the package metadata)."""
