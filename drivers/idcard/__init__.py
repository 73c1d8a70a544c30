"""Resident ID card (二代居民身份证) readers speaking the SAM-module serial frame protocol.

The interface is in drivers/idcard/interface.py; the frame codec (no I/O) in frames.py, the
text block decoder in text.py and the pyserial driver in serial.py. Implementations register in
drivers/registry.py.
"""
