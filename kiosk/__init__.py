"""The citizen-facing kiosk app: Kivy screens over a window-free session flow.

Layout: `flow/` (the session flow, neither Kivy nor httpx), `edge/` (the only way to citizen
data), `i18n/` (every user-facing word), `ui/` (Kivy; `ui/screens/` one module per screen),
`status_server.py` (loopback status and test automation), `runtime.py` (wiring), `cli.py`
(`kioskctl kiosk`). The version is `common.version`.
"""
