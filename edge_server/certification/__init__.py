"""Pension qualification certification on the edge (issue 7): the second judgement of the
kiosk's liveness evidence (`judge`), the evidence kept sealed for a retention period
(`evidence_store`), its tables (`tables`) and the route's body limit (`bodylimit`). The flow is
edge_server/services/certification.py. Importing this package imports nothing heavy."""
