"""What every request handler may need, built once per process by `main.create_app`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from common.clock import utc_now
from edge_server.central import CentralClient
from edge_server.crypto import DataCipher
from edge_server.settings import EdgeSettings


@dataclass
class EdgeContext:
    settings: EdgeSettings
    engine: Engine
    cipher: DataCipher
    central: CentralClient
    # Injectable so that tests move time (TTL, staleness, expiry) without sleeping.
    clock: Callable[[], dt.datetime] = utc_now

    def now(self) -> dt.datetime:
        return self.clock()


def get_context(request: Request) -> EdgeContext:
    return request.app.state.edge  # type: ignore[no-any-return]
