"""The virtual social security card: an applet that answers APDUs like a real card, its link to
pcscd's vsmartcard-vpcd reader driver, and the HTTP control service behind `kioskctl sim card`.

Usage and misbehaviour options: docs/simulators/card.md.
"""
