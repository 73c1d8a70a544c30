"""Everything a new terminal needs before its first start: credentials and its device file.

Imports only `fleet.protocol` (for names) and `common` of ours.
"""
