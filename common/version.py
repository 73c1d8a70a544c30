"""The software's version: one source, the installed distribution's metadata (pyproject.toml).

Every process reports this string (edge /health, kiosk status, fleet birth, User-Agent), so a
rollout compares like with like.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "hrss-kiosk"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a tree that was never installed
    __version__ = "0.0.0+unknown"
