"""Social security card (社会保障卡) reading over PC/SC, the card's PIN, and PSAM
authentication of generation 3 cards."""

from drivers.card.interface import (
    CardData,
    CardFailure,
    CardHealthCode,
    CardInserted,
    CardRead,
    CardReader,
    CardReadError,
    CardReadFailed,
    CardRemoved,
    PartialCardData,
    Pin,
    PinCapableReader,
    PinOutcome,
    PinResult,
    ReloadAuthoriser,
    ReloadRefused,
    ReloadRequest,
    StaffCredential,
)

__all__ = [
    "CardData",
    "CardFailure",
    "CardHealthCode",
    "CardInserted",
    "CardRead",
    "CardReadError",
    "CardReadFailed",
    "CardReader",
    "CardRemoved",
    "PartialCardData",
    "Pin",
    "PinCapableReader",
    "PinOutcome",
    "PinResult",
    "ReloadAuthoriser",
    "ReloadRefused",
    "ReloadRequest",
    "StaffCredential",
]
