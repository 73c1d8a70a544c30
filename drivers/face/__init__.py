"""Face detection, 128-d templates and comparison (pension qualification certification).

The interface is in drivers/face/interface.py; templates are citizen data and mask themselves.
"""
