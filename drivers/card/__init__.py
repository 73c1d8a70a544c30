"""Social security card (社会保障卡) reading over PC/SC."""

from drivers.card.interface import (
    CardData,
    CardFailure,
    CardInserted,
    CardRead,
    CardReader,
    CardReadFailed,
    CardRemoved,
)

__all__ = [
    "CardData",
    "CardFailure",
    "CardInserted",
    "CardRead",
    "CardReadFailed",
    "CardReader",
    "CardRemoved",
]
