"""The interface's promises: the absent reader keeps the Protocol; events and data mask."""

from __future__ import annotations

import datetime as dt

from drivers.absent import AbsenceCode, AbsentIdCardReader, AbsentQrScanner
from drivers.idcard.interface import (
    ETHNICITIES,
    KIND,
    IdCardData,
    IdCardFailure,
    IdCardRead,
    IdCardReader,
    IdCardReadFailed,
)

DATA = IdCardData(
    name="买买提·艾力", gender="1", ethnicity="05", birth_date=dt.date(1950, 1, 12),
    address="喀什市人民路1号", citizen_id="653101195001121022", issuing_authority="喀什市公安局",
    valid_from=dt.date(2010, 1, 1), valid_until=dt.date(2030, 1, 1), photo=b"\x01" * 1024,
)


def test_the_absent_reader_keeps_the_protocol_and_publishes_nothing() -> None:
    absent = AbsentIdCardReader(KIND, AbsenceCode.NOT_CONFIGURED, "none here")
    assert isinstance(absent, IdCardReader) and absent.rejections() == {}
    assert not isinstance(AbsentQrScanner("qr_scanner", AbsenceCode.NOT_CONFIGURED, ""),
                          IdCardReader)
    events: list[object] = []
    absent.subscribe(events.append)
    absent.start()
    absent.stop()
    assert events == [] and absent.health().code == "not-configured"


def test_events_holding_data_show_it_masked() -> None:
    text = repr(IdCardRead(reader="/dev/ttyUSB0", data=DATA))
    assert "653101195001121022" not in text and "买买提" not in text and "艾力" not in text
    assert "653101********1022" in text and "<1024 bytes>" in text
    failed = IdCardReadFailed(reader="/dev/ttyUSB0", failure=IdCardFailure.EXPIRED,
                              detail="valid until 2020-01-01")
    assert str(failed.failure) == "expired"


def test_the_code_tables_are_complete() -> None:
    assert len(ETHNICITIES) == 58 and ETHNICITIES["46"] == "德昂" and ETHNICITIES["56"] == "基诺"
    assert DATA.ethnicity_name == "维吾尔" and DATA.gender_name == "男"
    assert DATA.credential_fields() == {"citizen_id": "653101195001121022",
                                        "name": "买买提·艾力", "valid_until": "2030-01-01"}
