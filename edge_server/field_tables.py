"""The field terminal's trip tables (field mode, docs/field-mode.md): the trips prepared on this
edge and their rosters of pensioners due, each roster row sealed (it names a citizen and holds
their face template). Imported by edge_server.models so that migrations see them."""

# No `from __future__ import annotations`: SQLModel reads the annotations at class creation.

import datetime as dt

from sqlmodel import Field, SQLModel

from common.sqlite import UtcDateTime


class FieldTrip(SQLModel, table=True):
    """One trip prepared for one village; its roster expires with it."""

    __tablename__ = "field_trip"

    id: str = Field(primary_key=True, max_length=40)
    device_id: str = Field(max_length=64)
    village: str = Field(max_length=16, index=True)
    entries: int
    as_of: dt.datetime = Field(sa_type=UtcDateTime)  # central's time of the roster
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime, index=True)


class FieldRosterEntry(SQLModel, table=True):
    """One pensioner due on a trip's roster: `payload` seals the citizen's ID, person record
    (for the offline card check) and certification entry with the template."""

    __tablename__ = "field_roster"

    trip_id: str = Field(primary_key=True, max_length=40)
    citizen_key: str = Field(primary_key=True, max_length=64, index=True)
    key_id: str = Field(max_length=32)
    nonce: bytes
    payload: bytes
    expires_at: dt.datetime = Field(sa_type=UtcDateTime, index=True)
