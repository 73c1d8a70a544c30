"""The fleet manager: registry, presence, health and commands over MQTT; REST for operators."""
