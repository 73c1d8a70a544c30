"""A full ID number or name must never reach a log line, whatever the caller did."""

import io
import logging

import pytest

from common.logs import setup_logging

CITIZEN_ID = "11010519491231002X"
NAME = "张三丰"


_THIRD_PARTY = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    # An earlier test in this process may have run a uvicorn server, which sets its loggers'
    # levels (log_level="warning"): start from the state a fresh process has.
    third = {name: logging.getLogger(name) for name in _THIRD_PARTY}
    saved_third = {name: (lg.level, lg.disabled) for name, lg in third.items()}
    for lg in third.values():
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
    setup_logging("DEBUG", stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (level, disabled) in saved_third.items():
        third[name].setLevel(level)
        third[name].disabled = disabled


def test_message_args_exceptions_and_third_party_loggers_are_redacted(log_stream):
    log = logging.getLogger("edge_server.sessions")
    log.info("opened session for %s (%s)", CITIZEN_ID, NAME)
    log.warning(f"careless f-string {CITIZEN_ID} {NAME}")
    try:
        raise ValueError(f"lookup failed for {CITIZEN_ID}")
    except ValueError:
        log.exception("query failed")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET", f"/x?id={CITIZEN_ID}", 200
    )
    text = log_stream.getvalue()
    assert CITIZEN_ID not in text
    assert NAME not in text
    # The masked forms are there: the lines were written, not dropped.
    assert text.count("110105********002X") == 4
    assert "张**" in text
    assert "ValueError" in text


def test_setup_is_idempotent_and_leaves_one_handler(log_stream):
    setup_logging("INFO", log_stream)
    assert len(logging.getLogger().handlers) == 1
