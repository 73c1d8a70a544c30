"""The kiosk's version, from the installed distribution.

Its own module rather than kiosk/__init__.py: with some editable installs `kiosk` resolves as
a namespace package outside the source tree, and then __init__.py is never executed.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hrss-kiosk")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
