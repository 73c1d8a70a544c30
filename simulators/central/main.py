"""Run one central simulator process: logging through the redacting filter, then uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from common.logs import setup_logging
from simulators.central.api import create_app
from simulators.central.config import CentralSimConfig

log = logging.getLogger(__name__)


def serve(config: CentralSimConfig, host: str, port: int, log_level: str = "info") -> None:
    setup_logging(log_level.upper())
    app = create_app(config)
    log.info("central simulator on http://%s:%d (population %d)", host, port, config.population)
    # log_config=None: keep the handlers setup_logging installed, so uvicorn's access log
    # passes the redacting filter like every other record.
    uvicorn.run(app, host=host, port=port, log_config=None, log_level=log_level.lower())
