"""PIN pads (密码键盘): PIN entry for card transactions; interface in interface.py.

The PIN never appears in an event, a repr or a log line: events say how many digits were
pressed, and the finished entry is a `PinBlock` that masks itself.
"""
