"""Tests of the kiosk app: flow (no Kivy), edge client, status server, real windows."""
