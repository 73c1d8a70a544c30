"""Cameras for face verification and camera-based QR scanning; interface in interface.py.

The driver is drivers/camera/opencv.py (OpenCvCamera); importing this package does not import
OpenCV (the registry loads the driver only on terminals that have a camera).
"""
