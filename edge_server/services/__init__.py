"""Plain functions behind the routes: no FastAPI here except `Problem` for answers."""
