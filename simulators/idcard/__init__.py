"""A simulated resident ID card reader (二代证 SAM module) on a pty: `kioskctl sim idcard`.

device.py is the reader (frames on the pty's master, faults), cards.py the cards (from the
central simulator's population), service.py its HTTP control API, cli.py the CLI and stack.py
how the stack starts it. See docs/simulators/idcard.md.
"""

# The stable path of the simulated reader's port; drivers/idcard/serial.py SIMULATOR_LINK
# holds the same value (drivers may not import simulators). Test and demo machines only: the
# folder is made 0700 and one owned by another user is refused.
DEFAULT_LINK = "/tmp/hrss-kiosk-sim/idcard.tty"  # noqa: S108
DEFAULT_CONTROL_PORT = 8720
