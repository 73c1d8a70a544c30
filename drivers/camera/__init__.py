"""Cameras for face verification and camera-based QR scanning; interface in interface.py.

The driver is drivers/camera/opencv.py (OpenCvCamera), one per device in the process, leased
by each user (drivers/camera/shared.py: the face check and a camera QR scanner); importing
this package does not import OpenCV (the registry loads the driver only on terminals that
have a camera).
"""
