"""The citizen-facing kiosk app: Kivy screens over a window-free session flow.

Layout: `flow/` (state machine, no Kivy), `edge_client.py` (the only way to citizen data),
`i18n/` (every user-facing word), `ui/` (Kivy), `status_server.py` (loopback status and test
automation), `runtime.py` (wiring), `cli.py` (`kioskctl kiosk`). The version is in
`kiosk.version`.
"""
