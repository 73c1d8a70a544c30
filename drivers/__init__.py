"""Peripheral drivers: one package per device kind, each a typed interface plus implementations.

The contract every driver keeps is in drivers/base.py and docs/contracts/drivers.md.
Drivers import nothing of ours but `common` (the leaf helpers).
"""
