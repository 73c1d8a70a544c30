"""Social security card (社会保障卡) reading over PC/SC."""

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
]
