"""The kiosk's side of the edge API: the client (`client`), its wire models (`models`), its
errors (`errors`), problem parsing (`problems`) and its deadline-bound transport (`transport`).

`EdgeClient` makes one bounded attempt per call; the flow (kiosk.flow.retry) owns retries.
Nothing is re-exported here on purpose: the flow imports `models`, `errors` and `keys`, and
must not pull httpx in with them.
"""
