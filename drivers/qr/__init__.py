"""QR code scanners (electronic social security card, 电子社保卡): serial or camera-based.

The interface is in drivers/qr/interface.py; the scanned payload is an opaque token for the
edge server, never parsed or logged here. Implementations register in drivers/registry.py.
"""
