"""One router per resource; `fleet.manager.api.create_app` includes them all."""
