"""What our HTTP servers share and their clients never need: FastAPI adapters over `common`.

A leaf like `common/`, one level up: it may import `common` and FastAPI/Starlette, nothing else
of ours. The edge server, the fleet manager and the simulators import it; the kiosk never does.
"""
