"""A virtual ESC/POS receipt printer (TCP and pty) and a private cupsd with virtual A4 queues."""
