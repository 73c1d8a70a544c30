"""`GET /metrics` (at the app root, not under /api/v1: Prometheus' default `metrics_path`, and
where the edge serves its own): Prometheus text format 0.0.4, rendered by common/prometheus.py.

No credential, like /health: counts only, never a device id or anything a person typed. The
ingest counters are this process's since it started (with several managers, sum them); the
broker and database gauges are what `/health` says; device, command and rollout gauges are a
few aggregate queries per scrape, whichever manager is asked.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from common.prometheus import CONTENT_TYPE, Metric, render
from fleet.manager.api.deps import ManagerDep
from fleet.manager.models import DELIVERABLE_STATES
from fleet.manager.registry import queries
from fleet.manager.rollouts.machine import RolloutState
from fleet.manager.service import FleetManager

router = APIRouter(tags=["service"])

log = logging.getLogger(__name__)

P = "fleet_manager_"
# Sites are whatever terminals say in their births: a hostile or broken one can invent any
# number of them, and every label value is a series Prometheus keeps. The largest MAX_SITES
# are shown by name (real halls have many terminals, invented sites one each), the rest summed.
MAX_SITES = 200
OTHER_SITE = "other"
NO_SITE = "unknown"  # a device that has not said (no birth stored yet)


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(manager: ManagerDep) -> PlainTextResponse:
    """Prometheus text format 0.0.4: ingest counters, broker and database state, devices by
    site, open commands and rollouts by state."""
    return PlainTextResponse(render(collect(manager)), media_type=CONTENT_TYPE)


def collect(manager: FleetManager) -> list[Metric]:
    status = manager.status()
    found = _service_metrics(status)
    if status["database"]["ok"]:  # else the queries would only wait for the same failure
        try:
            found += _database_metrics(manager)
        except SQLAlchemyError as exc:
            # The process counters are worth the most when the database is in trouble.
            log.warning("metrics: registry counts failed (%s)", type(exc).__name__)
    return found


def _service_metrics(status: dict[str, Any]) -> list[Metric]:
    ingest = status["ingest"]
    latency = ingest["health_latency_ms"]
    return [
        Metric.single(f"{P}broker_connected", "gauge",
                      "1 when both MQTT connections (ingest and commands) are up.",
                      int(status["broker"]["connected"])),
        Metric.single(f"{P}broker_subscribed", "gauge",
                      "1 when the ingest subscription is in place.",
                      int(status["broker"]["subscribed"])),
        Metric.single(f"{P}database_up", "gauge", "1 when the registry database answers.",
                      int(status["database"]["ok"])),
        Metric.single(f"{P}messages_received_total", "counter",
                      "Messages received from the broker.", ingest["received"]),
        Metric.single(f"{P}messages_ingested_total", "counter",
                      "Messages stored in the registry.", ingest["ingested"]),
        Metric.labelled(f"{P}messages_rejected_total", "counter",
                        "Messages acknowledged without being stored, by reason.", "reason",
                        ingest["rejected"]),
        Metric.single(f"{P}ingest_batches_total", "counter",
                      "Batches the ingest writer applied.", ingest["batches"]),
        Metric.single(f"{P}db_errors_total", "counter",
                      "Registry writes that failed (retried or isolated).", ingest["db_errors"]),
        Metric.labelled(f"{P}presence_messages_total", "counter",
                        "Births and deaths that moved presence (accepted) or did not (ignored).",
                        "outcome", {"accepted": ingest["presence_accepted"],
                                    "ignored": ingest["presence_ignored"]}),
        Metric.single(f"{P}health_ignored_total", "counter",
                      "Health messages older than the one kept, or of no known session.",
                      ingest["health_ignored"]),
        Metric.labelled(f"{P}command_results_total", "counter",
                        "Command results applied, or ignored (unknown or already answered).",
                        "outcome", {"applied": ingest["results_applied"],
                                    "ignored": ingest["results_ignored"]}),
        Metric.labelled(f"{P}job_updates_total", "counter",
                        "Job messages applied, or ignored (stale or not started by a command).",
                        "outcome", {"applied": ingest["jobs_applied"],
                                    "ignored": ingest["jobs_ignored"]}),
        Metric.single(f"{P}ingest_backlog", "gauge",
                      "Messages received and not yet applied by the writer.", ingest["backlog"]),
        # NaN while no health message was stored: Prometheus' "no observation".
        Metric.single(f"{P}health_latency_p50_seconds", "gauge",
                      "Median health latency, sender timestamp to commit, recent messages.",
                      _seconds(latency["p50"])),
        Metric.single(f"{P}health_latency_p99_seconds", "gauge",
                      "99th percentile health latency, sender timestamp to commit.",
                      _seconds(latency["p99"])),
    ]


def _seconds(ms: float | None) -> float:
    return float("nan") if ms is None else ms / 1000.0


def _database_metrics(manager: FleetManager) -> list[Metric]:
    # One read transaction: on SQLite the counts are one snapshot; elsewhere (read committed)
    # a device arriving between two queries can only be off by itself until the next scrape.
    with Session(manager.db.read) as session:
        top = queries.devices_by_site(session, MAX_SITES)
        totals = queries.device_totals(session)
        commands = queries.command_counts(session, DELIVERABLE_STATES)
        rollouts = queries.rollout_counts(session)
    devices: dict[str, int] = {}
    online: dict[str, int] = {}
    # Summed per label, not set: a terminal may call its site "other" or "unknown" too, and one
    # label value must be one series.
    for row in top:
        label = NO_SITE if row.site is None else row.site
        devices[label] = devices.get(label, 0) + row.devices
        online[label] = online.get(label, 0) + row.online
    if len(top) >= MAX_SITES:
        devices[OTHER_SITE] = devices.get(OTHER_SITE, 0) + max(
            0, totals.devices - sum(r.devices for r in top))
        online[OTHER_SITE] = online.get(OTHER_SITE, 0) + max(
            0, totals.online - sum(r.online for r in top))
    sites = sorted(devices)
    return [
        Metric.labelled(f"{P}devices", "gauge",
                        f"Devices in the registry, by site (the {MAX_SITES} largest; the rest "
                        f'under site="{OTHER_SITE}").',
                        "site", {s: devices[s] for s in sites}),
        Metric.labelled(f"{P}devices_online", "gauge", "Devices online, by site (as above).",
                        "site", {s: online[s] for s in sites}),
        Metric.labelled(f"{P}commands", "gauge",
                        "Commands not answered yet: stored (pending) or with the broker (sent).",
                        "status", {s: commands.get(s, 0) for s in DELIVERABLE_STATES}),
        Metric.labelled(f"{P}rollouts", "gauge", "Rollouts by state.", "state",
                        {s.value: rollouts.get(s.value, 0) for s in RolloutState}),
    ]
