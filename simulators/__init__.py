"""Simulated devices and platforms for testers: virtual card, central platform, the whole stack.

Simulators speak only device-side protocols (PC/SC via vpcd, HTTP, MQTT) and never import the
kiosk's internals.
"""
