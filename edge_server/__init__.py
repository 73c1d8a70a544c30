"""The hall's edge server: the kiosks' only way to citizen data (docs/contracts/edge-api.md).

Caches central answers (encrypted), keeps sessions and idempotency records durable, writes a
hash-chained audit log. Imports nothing of ours but `common`. This module stays light: the CLI
imports the package before it knows it will run the server.
"""

__version__ = "0.1.0"
