"""The edge's way to the central benefit platform: one client, the contract's answers as
bounded data, their validation, and the errors a call can end in.

`client` calls, `transport` bounds every socket operation by the call's deadline, `reading`
bounds the body, `wire` holds the answers' types, `validation` checks them against the question
and the time, `reachability` remembers the last contact for the health endpoint.
"""

from edge_server.central.client import CentralClient, CentralLimits, client_from_settings
from edge_server.central.errors import (
    BadAnswer,
    CentralNotFound,
    CentralUnavailable,
    TokenExpired,
    TokenInvalid,
)
from edge_server.central.reachability import Reachability, ReachabilityTracker
from edge_server.central.wire import (
    CentralCard,
    CentralParticipation,
    CentralPayment,
    CentralPerson,
    PaymentsAnswer,
    PersonAnswer,
    TokenAnswer,
)

__all__ = [
    "BadAnswer",
    "CentralCard",
    "CentralClient",
    "CentralLimits",
    "CentralNotFound",
    "CentralParticipation",
    "CentralPayment",
    "CentralPerson",
    "CentralUnavailable",
    "PaymentsAnswer",
    "PersonAnswer",
    "Reachability",
    "ReachabilityTracker",
    "TokenAnswer",
    "TokenExpired",
    "TokenInvalid",
    "client_from_settings",
]
