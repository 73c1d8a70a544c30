"""The card blacklist feed into card_block (services/blacklist.py): pages and cursor, unblocking,
out-of-order and repeated pages, one bad item dropped alone, a bad page or an outage changes
nothing; keys are keyed hashes, never card numbers. Against a small fake of the feed (central
1.5); the simulator's feed end to end: test_card_loss.py."""

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest

from edge_server.main import build_context
from edge_server.services import blacklist
from edge_server.settings import EdgeSettings
from tests.edge_server.support import CENTRAL_KEY, HALL_SECRET, FakeClock

T0 = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


def at(minutes: int) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class FakeFeed:
    """central's feed: `changes` in order; the cursor is the index of the next change."""

    def __init__(self) -> None:
        self.changes: list[dict] = []
        self.down = False
        self.raw_answer: bytes | None = None
        self.asked: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/central/v1/card-blacklist/query"
        assert request.headers["authorization"] == f"Bearer {CENTRAL_KEY}"
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        body = json.loads(request.content)
        self.asked.append(body)
        if self.raw_answer is not None:
            return httpx.Response(200, content=self.raw_answer,
                                  headers={"content-type": "application/json"})
        start = int(body["since"] or 0)
        page = self.changes[start:start + body["limit"]]
        end = start + len(page)
        return httpx.Response(200, json={
            "as_of": at(0), "items": page, "next": str(end), "more": end < len(self.changes)})


@pytest.fixture
def feed_ctx(tmp_path) -> Iterator[tuple[FakeFeed, object]]:
    feed = FakeFeed()
    settings = EdgeSettings(data_dir=tmp_path, central_url="http://central",
                            central_api_key=CENTRAL_KEY, hall_secret=HALL_SECRET,
                            blacklist_page_limit=2, blacklist_max_pages=3)
    ctx = build_context(settings, central_http=httpx.Client(
        base_url="http://central", transport=httpx.MockTransport(feed)), clock=FakeClock(T0))
    try:
        yield feed, ctx
    finally:
        ctx.engine.dispose()


def change(number: str, status: str, minute: int) -> dict:
    return {"card_number": number, "status": status, "changed_at": at(minute)}


def blocked(ctx, number: str) -> str | None:
    found = blacklist.feed_status(ctx, number)
    return found[0] if found else None


def test_pages_are_pulled_with_the_cursor_and_more_pages_come_soon(feed_ctx):
    feed, ctx = feed_ctx
    feed.changes = [change(f"A{n:08d}", "reported-lost", n) for n in range(7)]
    # Three pages of two per pull, then a short delay: a seventh change is left.
    assert blacklist.sync_step(ctx) == blacklist.MORE_DELAY_S
    assert [a["since"] for a in feed.asked] == [None, "2", "4"]
    assert blocked(ctx, "A00000005") == "reported-lost"
    assert blocked(ctx, "A00000006") is None
    assert blacklist.sync_step(ctx) is None
    assert blocked(ctx, "a00000006") == "reported-lost", "card numbers compare upper-cased"
    assert feed.asked[-1]["since"] == "6"


def test_normal_unblocks_and_an_older_change_does_not_win(feed_ctx):
    feed, ctx = feed_ctx
    feed.changes = [change("A1", "reported-lost", 1), change("A2", "cancelled", 2)]
    blacklist.sync_step(ctx)
    feed.changes += [change("A1", "normal", 5), change("A2", "reported-lost", 1)]
    blacklist.sync_step(ctx)
    assert blocked(ctx, "A1") is None, "unblocked after 解挂"
    assert blocked(ctx, "A2") == "cancelled", "a change older than the one held is ignored"


def test_one_malformed_item_is_dropped_alone(feed_ctx):
    feed, ctx = feed_ctx
    feed.changes = [change("A1", "blacklisted", 1), {"card_number": "../x", "status": "lost"},
                    change("A3", "reported-lost", 3), change("A4", "reported-lost", 99999)]
    assert blacklist.sync_step(ctx) is None
    assert blocked(ctx, "A1") == "blacklisted"
    assert blocked(ctx, "A3") == "reported-lost"
    assert blocked(ctx, "A4") is None, "a change far in the future is not believed"


@pytest.mark.parametrize("raw", [
    b"not json",
    json.dumps({"as_of": at(0), "items": [], "next": "x" * 65, "more": False}).encode(),
    json.dumps({"as_of": "2020-01-01T00:00:00Z", "items": [], "next": "1",
                "more": False}).encode(),
    json.dumps({"as_of": at(0), "items": [{}] * 5001, "next": "1", "more": False}).encode(),
])
def test_a_bad_page_or_an_outage_changes_nothing(feed_ctx, raw):
    feed, ctx = feed_ctx
    feed.changes = [change("A1", "reported-lost", 1)]
    blacklist.sync_step(ctx)
    feed.raw_answer = raw
    assert blacklist.sync_step(ctx) is None
    feed.raw_answer = None
    feed.down = True
    assert blacklist.sync_step(ctx) is None
    assert blocked(ctx, "A1") == "reported-lost", "what was held stays in force"
    feed.down = False
    feed.changes.append(change("A2", "cancelled", 2))
    blacklist.sync_step(ctx)
    assert feed.asked[-1]["since"] == "1", "the cursor did not move on a bad page"
    assert blocked(ctx, "A2") == "cancelled"


def test_the_table_holds_keyed_hashes_not_card_numbers(feed_ctx, tmp_path):
    feed, ctx = feed_ctx
    feed.changes = [change("A98765432", "reported-lost", 1)]
    blacklist.sync_step(ctx)
    ctx.engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("edge.db*"))
    assert b"A98765432" not in raw and b"a98765432" not in raw
    assert blacklist.card_key(ctx, "A98765432").encode() in raw
