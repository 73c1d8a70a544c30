"""Cached-query throughput of the real edge server against a bare FastAPI endpoint.

    python -m benchmarks.edge [--duration 5] [--connections 16]

1. A central simulator and the edge (`kioskctl edge`, uvicorn, one worker, SQLite) as real
   processes. A kiosk opens a session for a pensioner and reads its benefits once: from then on
   `GET /api/v1/sessions/{id}/benefits` is served from the edge's encrypted cache (TTL raised
   for the run), with device-token auth, session lookup, decryption and the audit entry.
2. Baseline: a bare FastAPI app under uvicorn with the same server settings (one worker, same
   host, log level, access log) whose one route returns the very bytes the edge answered.
3. Maximum rate: `wrk -t1 -c<connections> -d<duration>s` against each (another process). Then,
   at half of the edge's maximum, an open-loop load process (`--pace`, below: requests start on a
   fixed schedule whatever the answers do, and latency counts from the scheduled start, so a
   stall is not hidden) gives the edge's p99.

Keys: `rps`, `bare_rps`, `ratio` (rps / bare_rps; target >= 0.60), `p99_ms_at_half` (target
<= 30), `p50_ms_at_half`, `rate_at_half`, `achieved_at_half`, `errors_at_half`. Progress goes to
stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from common.device_token import device_token
from simulators.stack import services
from simulators.stack.ports import free_port
from simulators.stack.supervisor import ProcessSpec, Supervisor

HALL_SECRET = secrets.token_urlsafe(24)  # this run's hall only
DEVICE = "kiosk-bench"
LOG_LEVEL = "warning"  # both servers: no access log lines on the hot path of either


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the bare baseline (run as `python -m benchmarks.edge --bare PORT BODY_FILE`) -------------


def serve_bare(port: int, body_file: Path, path: str) -> None:
    import uvicorn
    from fastapi import FastAPI, Response

    from common.logs import setup_logging

    body = body_file.read_bytes()
    app = FastAPI()

    @app.get(path)
    def benefits() -> Response:  # sync, as the edge's routes are: the same thread pool hop
        return Response(content=body, media_type="application/json")

    setup_logging(LOG_LEVEL.upper())
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, log_level=LOG_LEVEL)


# -- the paced load (run as `python -m benchmarks.edge --pace URL RATE SECONDS CONNS TOKEN`) --


async def _paced(url: str, rate: float, seconds: float, connections: int,
                 token: str) -> dict[str, Any]:
    parsed = httpx.URL(url)
    request = (f"GET {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    interval = 1.0 / rate

    async def connection(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        try:
            # Request n (global) belongs to connection n % connections, due at start + n/rate.
            for n in range(index, total, connections):
                due = start + n * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                latencies.append(time.perf_counter() - due)
        finally:
            writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"requests": len(ordered), "errors": errors, "achieved": round(len(ordered) / elapsed),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


# -- measuring --------------------------------------------------------------------------------


def wrk(url: str, token: str, seconds: float, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw {non2xx.group(1)} error answers:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def pace(url: str, token: str, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.edge", "--pace", url, str(rate), str(seconds),
         str(connections), token], capture_output=True, text=True, timeout=seconds + 120,
        check=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def prepare_session(edge_url: str, central_url: str, token: str) -> tuple[str, bytes]:
    """A pensioner's session, its benefits read once (cached): (path, the answer's bytes)."""
    with httpx.Client(timeout=10) as client:
        page = client.get(f"{central_url}/sim/v1/citizens",
                          params={"receiving_pension": True, "card_status": "normal",
                                  "limit": 1}).json()
        citizen = page["items"][0]
        card = citizen["card"]
        opened = client.post(
            f"{edge_url}/api/v1/sessions",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            json={"method": "card", "card": {
                "citizen_id": citizen["citizen_id"], "name": citizen["name"],
                "card_number": card["card_number"], "card_id_code": card["card_id_code"],
                "spec_version": citizen["spec_version"]}})
        opened.raise_for_status()
        path = f"/api/v1/sessions/{opened.json()['session_id']}/benefits"
        first = client.get(edge_url + path, headers={"Authorization": f"Bearer {token}"})
        first.raise_for_status()
        again = client.get(edge_url + path, headers={"Authorization": f"Bearer {token}"})
        if again.content != first.content:
            raise RuntimeError("the cached answer differs from the first one")
        return path, again.content


def run(args: argparse.Namespace) -> dict[str, Any]:
    token = device_token(HALL_SECRET, DEVICE, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp, \
            Supervisor(Path(tmp) / "logs") as sup:
        work = Path(tmp)
        central = services.central_sim(data_dir=work / "central")
        sup.start(central.spec)
        edge = services.edge(
            work / "edge", central_url=central.url, hall_secret=HALL_SECRET,
            extra_env={
                "EDGE_LOG_LEVEL": LOG_LEVEL.upper(),
                # The run reads one cached answer: no refresh from central during it, and the
                # session outlives the run.
                "EDGE_CACHE_TTL_S": "86400", "EDGE_SESSION_TTL_S": "86400",
            })
        sup.start(edge.spec)
        path, body = prepare_session(edge.url, central.url, token)
        _say(f"edge answers {len(body)} bytes on {path}")

        body_file = work / "body.json"
        body_file.write_bytes(body)
        bare_port = free_port()
        bare_url = f"http://127.0.0.1:{bare_port}"
        sup.start(ProcessSpec(
            name="bare", argv=[sys.executable, "-m", "benchmarks.edge", "--bare", str(bare_port),
                               str(body_file), path],
            env={"PYTHONPATH": os.getcwd()},
            ready=lambda: services.http_ok(bare_url + path)))
        with httpx.Client(timeout=5) as client:
            if client.get(bare_url + path).content != body:
                raise RuntimeError("the baseline does not answer the same bytes")

        # Warm-up, then the maximum rates (alternated, so drift hurts both alike).
        wrk(edge.url + path, token, 1, args.connections)
        wrk(bare_url + path, token, 1, args.connections)
        rps = wrk(edge.url + path, token, args.duration, args.connections)
        _say(f"edge: {rps:.0f} req/s")
        bare_rps = wrk(bare_url + path, token, args.duration, args.connections)
        _say(f"bare: {bare_rps:.0f} req/s")

        half = rps / 2
        paced = pace(edge.url + path, token, half, args.duration, args.connections)
        _say(f"edge at {half:.0f} req/s: {paced}")
    return {
        "rps": round(rps), "bare_rps": round(bare_rps), "ratio": round(rps / bare_rps, 3),
        "p99_ms_at_half": paced["p99_ms"], "p50_ms_at_half": paced["p50_ms"],
        "rate_at_half": round(half), "achieved_at_half": paced["achieved"],
        "errors_at_half": paced["errors"], "body_bytes": len(body),
        "connections": args.connections, "duration_s": args.duration,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.edge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bare", nargs=3, metavar=("PORT", "BODY_FILE", "PATH"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--pace", nargs=5, metavar=("URL", "RATE", "SECONDS", "CONNS", "TOKEN"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        serve_bare(int(args.bare[0]), Path(args.bare[1]), args.bare[2])
        return 0
    if args.pace:
        url, rate, seconds, conns, token = args.pace
        print(json.dumps(asyncio.run(_paced(url, float(rate), float(seconds), int(conns),
                                            token))))
        return 0
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
