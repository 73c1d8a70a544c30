"""A4 document printers (hall kiosks print official documents on a laser printer), through CUPS."""
