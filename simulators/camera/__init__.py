"""The simulated camera: scripted personas built from real photos, served like a camera."""
