"""A fleet of virtual terminals, each running the agent's own `AgentCore`
(docs/simulators/fleet.md): in memory, or against a real MQTT broker."""
