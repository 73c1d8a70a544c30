"""The hall's edge server: the kiosks' only way to citizen data (docs/contracts/edge-api.md).

Caches central answers (encrypted), keeps sessions and idempotency records durable, writes a
hash-chained audit log. Imports nothing of ours but `common` and `webapi`. This module stays
light: the CLI imports the package before it knows it will run the server.
"""

# The one version source is the package metadata (common.version); re-exported for callers.
from common.version import __version__

__all__ = ["__version__"]
