"""Cameras for face verification and camera-based QR scanning; interface in interface.py."""
