"""The fleet agent that runs beside the kiosk app on every terminal."""
