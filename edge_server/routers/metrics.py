"""`GET /metrics`: Prometheus text format (0.0.4), rendered by common/prometheus.py.

No credential, like /health: counts and ages only, never personal data. Counters are since the
process started; gauges are read from the database on every scrape (a few indexed counts).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from common.prometheus import CONTENT_TYPE, Metric
from common.prometheus import render as render_metrics
from edge_server import outbox
from edge_server.context import EdgeContext
from edge_server.deps import Ctx
from edge_server.outbox.runtime import runtime

router = APIRouter(tags=["health"])


def render(ctx: EdgeContext) -> str:
    found = outbox.stats(ctx)
    rt = runtime(ctx)
    stats = ctx.cache_stats
    metrics = [
        Metric.single("edge_outbox_depth", "gauge", "Submissions not yet at central.",
                      found.depth),
        Metric.single("edge_outbox_oldest_pending_age_seconds", "gauge",
                      "Age of the oldest unsent submission (0 when none).",
                      found.oldest_pending_age_s or 0),
        Metric.single("edge_outbox_dead_letters", "gauge", "Refused submissions not retried yet.",
                      found.dead_letters),
        Metric.single("edge_outbox_full_total", "counter",
                      "Submissions refused because the outbox was full.", rt.full_total.value),
        Metric.single("edge_outbox_sent_total", "counter", "Submissions central took.",
                      rt.sent_total.value),
        Metric.single("edge_outbox_refused_total", "counter",
                      "Submissions central refused (dead letters).", rt.dead_total.value),
        Metric.single("edge_central_reachable", "gauge",
                      "1 when the last contact with central worked.",
                      1 if ctx.central.reachability.state == "reachable" else 0),
        Metric.single("edge_cache_hits_total", "counter", "Citizen lookups the cache answered.",
                      stats.hits),
        Metric.single("edge_cache_misses_total", "counter", "Citizen lookups that asked central.",
                      stats.misses),
        Metric.single("edge_central_bad_answers_total", "counter",
                      "Answers (or single results) of central refused as not the contract's.",
                      ctx.central.bad_answers.total),
    ]
    return render_metrics(metrics)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(ctx: Ctx) -> PlainTextResponse:
    return PlainTextResponse(render(ctx), media_type=CONTENT_TYPE)
