"""Device listing: filters and keyset pagination."""

from __future__ import annotations

from fleet.manager.registry import Registry
from tests.fleet.manager.support import S1, apply, birth, death


def test_filters_and_pages(registry: Registry) -> None:
    apply(registry, *(birth(S1, device_id=f"T-{i}") for i in range(5)), death(S1, "T-3"))
    online = registry.list_devices(site="hall", online=True, after=None, limit=10)
    assert [d.id for d in online] == ["T-0", "T-1", "T-2", "T-4"]
    assert registry.list_devices(site="elsewhere", online=None, after=None, limit=10) == []
    page = registry.list_devices(site=None, online=None, after="T-1", limit=2)
    assert [d.id for d in page] == ["T-2", "T-3"]
    assert [e.kind for e in registry.presence_events("T-3", 1)] == ["death"]  # newest first
