"""`kioskctl demo`: the whole stack on simulated hardware, with a scripted journey offscreen."""
