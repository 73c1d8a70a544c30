"""Receipt printers (ESC/POS): certificates and receipts; interface in interface.py."""
