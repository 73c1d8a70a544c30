"""The kiosk's peripherals: every kind of the registry, built from settings, run as one set.

`build_peripherals(settings)` asks drivers/registry.py for each kind's chosen implementation;
`Peripherals` starts them, forwards their events to one set of observers, stops them within a
bound, and reports every kind's health for the status endpoint.
"""

from kiosk.peripherals.build import build_peripherals
from kiosk.peripherals.running import Peripheral, Peripherals, as_peripherals

__all__ = ["Peripheral", "Peripherals", "as_peripherals", "build_peripherals"]
