"""Card read latency through the real stack: PcscCardReader.read() against bare pyscard.

    python -m benchmarks.card_read [--reads N]

Starts its own pcscd (vpcd readers on free ports, private mount namespace) and a virtual
generation 2 card, then measures:

- `read`: PcscCardReader.read() end to end (context, connect, transaction, SELECT, 14 records
  with the T=0 procedure, decode, disconnect);
- `baseline`: bare pyscard (`smartcard.scard.SCardTransmit`) sending the very APDU sequence
  that read() sent, on one connection opened beforehand;
- both again with the card's TCP_QUICKACK fix switched off, to show the 44 ms/APDU stall of
  Debian's vpcd (fewer repetitions: each read then takes over a second).

Progress goes to stderr; the last line on stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.clock import Deadline
from simulators.card.applet import SscCard
from simulators.card.vpcd_link import VpcdLink
from simulators.central.population import Population
from simulators.stack import services
from simulators.stack.supervisor import Supervisor

READER = "Virtual PCD 00 00"


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered) * 1000, 3), "p95": round(p95 * 1000, 3)}


def _timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def _wait_reader(present: bool, timeout: float = 10.0) -> None:
    from smartcard import scard

    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        deadline = Deadline(timeout)
        current = scard.SCARD_STATE_UNAWARE
        while not deadline.expired:
            wait_ms = 0 if current == scard.SCARD_STATE_UNAWARE else 500
            hresult, states = scard.SCardGetStatusChange(context, wait_ms, [(READER, current)])
            if hresult == scard.SCARD_S_SUCCESS:
                event = states[0][1]
                if bool(event & scard.SCARD_STATE_PRESENT) == present:
                    return
                current = event & ~scard.SCARD_STATE_CHANGED
        raise RuntimeError(f"{READER} did not become {'present' if present else 'empty'}")
    finally:
        scard.SCardReleaseContext(context)


class _BareConnection:
    """The baseline: raw pyscard on one connection, no driver code."""

    def __init__(self) -> None:
        from smartcard import scard

        self.scard = scard
        _, self.context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        hresult, self.card, protocol = scard.SCardConnect(
            self.context, READER, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        if hresult != scard.SCARD_S_SUCCESS:
            raise RuntimeError(scard.SCardGetErrorMessage(hresult))
        self.pci = scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1

    def replay(self, commands: list[list[int]]) -> None:
        for command in commands:
            hresult, _ = self.scard.SCardTransmit(self.card, self.pci, command)
            if hresult != self.scard.SCARD_S_SUCCESS:
                raise RuntimeError(self.scard.SCardGetErrorMessage(hresult))

    def close(self) -> None:
        self.scard.SCardDisconnect(self.card, self.scard.SCARD_LEAVE_CARD)
        self.scard.SCardReleaseContext(self.context)


def _measure(card: SscCard, port: int, *, quickack: bool, reads: int) -> dict[str, Any]:
    from drivers.card.pcsc import PcscCardReader

    link = VpcdLink(card, "127.0.0.1", port, quickack=quickack)
    link.start()
    try:
        _wait_reader(present=True)
        reader = PcscCardReader(READER)
        reader.read()  # warm-up, and the APDU sequence to replay
        card.commands.clear()
        reader.read()
        sequence = [list(c) for c in card.commands]
        read_samples = _timed(reader.read, reads)
        bare = _BareConnection()
        try:
            baseline_samples = _timed(lambda: bare.replay(sequence), reads)
        finally:
            bare.close()
    finally:
        link.close()
        _wait_reader(present=False)
    return {"read": _ms(read_samples), "baseline": _ms(baseline_samples), "apdus": len(sequence)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200, help="reads per measurement")
    parser.add_argument("--slow-reads", type=int, default=3, help="reads without QUICKACK")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="card-bench-") as tmp, Supervisor(
        Path(tmp) / "logs"
    ) as supervisor:
        pcscd = services.pcscd(Path(tmp) / "pcscd")
        supervisor.start(pcscd.spec)
        # libpcsclite reads this once, at the first PC/SC call of the process.
        os.environ.update(pcscd.client_env)

        population = Population()
        citizen = next(
            population.citizen(i) for i in range(population.size)
            if population.citizen(i).current_card.generation == 2
        )
        results: dict[str, dict[str, Any]] = {}
        plan: list[tuple[str, SscCard, bool, int]] = [
            ("t0", SscCard.from_citizen(citizen, protocol="T=0"), True, args.reads),
            ("t1", SscCard.from_citizen(citizen, protocol="T=1"), True, args.reads),
            ("t0_no_quickack", SscCard.from_citizen(citizen, protocol="T=0"), False,
             args.slow_reads),
        ]
        for name, card, quickack, reads in plan:
            print(f"measuring {name} ({reads} reads)...", file=sys.stderr, flush=True)
            results[name] = _measure(card, pcscd.vpcd_port, quickack=quickack, reads=reads)
            print(f"  {results[name]}", file=sys.stderr, flush=True)

    t0, t1, slow = results["t0"], results["t1"], results["t0_no_quickack"]
    summary = {
        "benchmark": "card_read",
        "reads": args.reads,
        "protocol": "T=0",
        "apdus_per_read": t0["apdus"],
        "read_ms_median": t0["read"]["median"],
        "read_ms_p95": t0["read"]["p95"],
        "baseline_ms_median": t0["baseline"]["median"],
        "baseline_ms_p95": t0["baseline"]["p95"],
        "overhead_ratio": round(t0["read"]["median"] / t0["baseline"]["median"], 2),
        "t1_apdus_per_read": t1["apdus"],
        "t1_read_ms_median": t1["read"]["median"],
        "t1_baseline_ms_median": t1["baseline"]["median"],
        "no_quickack_reads": args.slow_reads,
        "no_quickack_read_ms_median": slow["read"]["median"],
        "no_quickack_baseline_ms_median": slow["baseline"]["median"],
        "quickack_speedup": round(slow["read"]["median"] / t0["read"]["median"], 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
