"""Card read latency through the real stack: PcscCardReader.read() against bare pyscard.

    python -m benchmarks.card_read [--reads N]

Starts its own pcscd (vpcd readers on free ports, private mount namespace) and a virtual
generation 2 card, then measures:

- `read`: PcscCardReader.read() end to end (connect, transaction, SELECT, 14 records with the
  T=0 procedure, decode, disconnect; its PC/SC context is kept between reads);
- `baseline`: bare pyscard sending the very APDU sequence that read() sent, as a program
  that reads a card with it does: SCardConnect, SCardBeginTransaction, the APDUs
  (`SCardTransmit`), SCardEndTransaction, SCardDisconnect, on a context established
  beforehand (`overhead_ratio`);
- `apdus_only`: the same APDUs on one connection opened beforehand, no connect, no
  transaction (`apdu_only_overhead_ratio`: what the driver costs beyond the card's answers);
- both again with the card's TCP_QUICKACK fix switched off, to show the 44 ms/APDU stall of
  Debian's vpcd (fewer repetitions: each read then takes over a second);
- `gen3`: a generation 3 card read with the virtual PSAM in the SAM slot ("Virtual PCD 00 01"):
  read() with card authentication (GET CHALLENGE, INTERNAL/EXTERNAL AUTHENTICATE on both),
  against bare pyscard sending the same card and PSAM APDUs, in the same order, connecting
  to both readers in a transaction each (`gen3_overhead_ratio`), and on two connections
  opened beforehand (`gen3_apdu_only_overhead_ratio`).

Read and baselines run alternately, one of each per round. `overhead_ratio` and
`gen3_overhead_ratio` are the median over rounds of read time / baseline time: on a shared,
loaded machine a burst of load slows both halves of a round alike, where a ratio of two
medians taken over different moments swings with it. The ratio of the medians is reported too
(`*_ratio_of_medians`), and so are both medians.

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
from simulators.card.psam import PsamCard
from simulators.card.vpcd_link import VpcdLink
from simulators.central.population import Population
from simulators.stack import services
from simulators.stack.supervisor import Supervisor

READER = "Virtual PCD 00 00"
SAM_READER = "Virtual PCD 00 01"


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


def _paired(actions: list[Callable[[], object]], repeat: int) -> list[list[float]]:
    """The actions in turn, one of each per round: on a shared, loaded machine a burst of load
    then hits every side of a ratio alike instead of whichever happened to run at the time."""
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for action, times in zip(actions, samples, strict=True):
            times.extend(_timed(action, 1))
    return samples


def _paired_ratio(read: list[float], baseline: list[float]) -> float:
    """The median over rounds of read / baseline (see the module docstring)."""
    return round(statistics.median(r / b for r, b in zip(read, baseline, strict=True)), 2)


def wait_reader(present: bool, timeout: float = 10.0, reader: str = READER) -> None:
    from smartcard import scard

    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        deadline = Deadline(timeout)
        current = scard.SCARD_STATE_UNAWARE
        while not deadline.expired:
            wait_ms = 0 if current == scard.SCARD_STATE_UNAWARE else 500
            hresult, states = scard.SCardGetStatusChange(context, wait_ms, [(reader, current)])
            if hresult == scard.SCARD_S_SUCCESS:
                event = states[0][1]
                if bool(event & scard.SCARD_STATE_PRESENT) == present:
                    return
                current = event & ~scard.SCARD_STATE_CHANGED
        raise RuntimeError(f"{reader} did not become {'present' if present else 'empty'}")
    finally:
        scard.SCardReleaseContext(context)


class _BareConnection:
    """The baseline: raw pyscard, no driver code. `replay` sends on the connection opened
    here; `session` connects, opens a transaction, sends, and disconnects, as a bare pyscard
    program that reads a card does (on this context, established once, as the driver's is)."""

    def __init__(self, reader: str = READER) -> None:
        from smartcard import scard

        self.scard = scard
        self.reader = reader
        _, self.context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        self.card, self.pci = self._connect()

    def _connect(self) -> tuple[int, Any]:
        scard = self.scard
        hresult, card, protocol = scard.SCardConnect(
            self.context, self.reader, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        if hresult != scard.SCARD_S_SUCCESS:
            raise RuntimeError(scard.SCardGetErrorMessage(hresult))
        pci = scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        return card, pci

    def replay(self, commands: list[list[int]], card: int | None = None) -> None:
        handle = self.card if card is None else card
        for command in commands:
            hresult, _ = self.scard.SCardTransmit(handle, self.pci, command)
            if hresult != self.scard.SCARD_S_SUCCESS:
                raise RuntimeError(self.scard.SCardGetErrorMessage(hresult))

    def open(self) -> int:
        card, _ = self._connect()
        self.scard.SCardBeginTransaction(card)
        return card

    def shut(self, card: int) -> None:
        self.scard.SCardEndTransaction(card, self.scard.SCARD_LEAVE_CARD)
        self.scard.SCardDisconnect(card, self.scard.SCARD_LEAVE_CARD)

    def session(self, commands: list[list[int]]) -> None:
        card = self.open()
        try:
            self.replay(commands, card)
        finally:
            self.shut(card)

    def close(self) -> None:
        self.scard.SCardDisconnect(self.card, self.scard.SCARD_LEAVE_CARD)
        self.scard.SCardReleaseContext(self.context)


def _measure(card: SscCard, port: int, *, quickack: bool, reads: int) -> dict[str, Any]:
    from drivers.card.pcsc import PcscCardReader

    link = VpcdLink(card, "127.0.0.1", port, quickack=quickack)
    link.start()
    try:
        wait_reader(present=True)
        reader = PcscCardReader(READER)
        reader.read()  # warm-up, and the APDU sequence to replay
        card.commands.clear()
        reader.read()
        sequence = [list(c) for c in card.commands]
        bare = _BareConnection()
        try:
            read_samples, baseline_samples, apdu_samples = _paired(
                [reader.read, lambda: bare.session(sequence), lambda: bare.replay(sequence)],
                reads,
            )
        finally:
            bare.close()
    finally:
        link.close()
        wait_reader(present=False)
    return {
        "read": _ms(read_samples), "baseline": _ms(baseline_samples),
        "apdus_only": _ms(apdu_samples), "apdus": len(sequence),
        "ratio": _paired_ratio(read_samples, baseline_samples),
        "apdu_only_ratio": _paired_ratio(read_samples, apdu_samples),
    }


class _Recorder:
    """Notes every APDU a virtual card or PSAM receives, in arrival order across both."""

    def __init__(self) -> None:
        self.sequence: list[tuple[str, list[int]]] = []
        self.on = False

    def wrap(self, name: str, card: SscCard | PsamCard) -> None:
        process = card.process

        def recorded(raw: bytes) -> bytes:
            if self.on:
                self.sequence.append((name, list(raw)))
            return process(raw)

        card.process = recorded  # type: ignore[method-assign]


def _measure_gen3(card: SscCard, psam: PsamCard, port: int, *, reads: int) -> dict[str, Any]:
    from drivers.card.pcsc import PcscCardReader

    recorder = _Recorder()
    recorder.wrap("card", card)
    recorder.wrap("psam", psam)
    sam_link = VpcdLink(psam, "127.0.0.1", port + 1)
    sam_link.start()
    link = VpcdLink(card, "127.0.0.1", port)
    link.start()
    try:
        wait_reader(present=True, reader=SAM_READER)
        wait_reader(present=True)
        reader = PcscCardReader(READER, sam_reader=SAM_READER)
        if not reader.read().psam_authenticated:  # warm-up, and proof the PSAM path is taken
            raise RuntimeError("the generation 3 read did not authenticate with the PSAM")
        recorder.on = True
        reader.read()
        recorder.on = False
        sequence = list(recorder.sequence)
        bare_card, bare_sam = _BareConnection(READER), _BareConnection(SAM_READER)
        try:
            def replay() -> None:
                for target, command in sequence:
                    (bare_card if target == "card" else bare_sam).replay([command])

            def session() -> None:
                # As the driver does: the card's connection first, the PSAM's once it is
                # needed (the first PSAM command), each in a transaction.
                card = bare_card.open()
                sam: int | None = None
                try:
                    for target, command in sequence:
                        if target == "card":
                            bare_card.replay([command], card)
                            continue
                        if sam is None:
                            sam = bare_sam.open()
                        bare_sam.replay([command], sam)
                finally:
                    if sam is not None:
                        bare_sam.shut(sam)
                    bare_card.shut(card)

            read_samples, baseline_samples, apdu_samples = _paired(
                [reader.read, session, replay], reads
            )
        finally:
            bare_card.close()
            bare_sam.close()
    finally:
        link.close()
        sam_link.close()
        wait_reader(present=False)
        wait_reader(present=False, reader=SAM_READER)
    return {
        "read": _ms(read_samples), "baseline": _ms(baseline_samples),
        "apdus_only": _ms(apdu_samples),
        "apdus": len(sequence), "psam_apdus": sum(1 for t, _ in sequence if t == "psam"),
        "ratio": _paired_ratio(read_samples, baseline_samples),
        "apdu_only_ratio": _paired_ratio(read_samples, apdu_samples),
    }


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
        gen3_citizen = next(
            population.citizen(i) for i in range(population.size)
            if population.citizen(i).current_card.generation == 3
        )
        print(f"measuring gen3 with PSAM ({args.reads} reads)...", file=sys.stderr, flush=True)
        results["gen3"] = _measure_gen3(
            SscCard.from_citizen(gen3_citizen, protocol="T=0"), PsamCard(protocol="T=0"),
            pcscd.vpcd_port, reads=args.reads,
        )
        print(f"  {results['gen3']}", file=sys.stderr, flush=True)

    t0, t1, slow = results["t0"], results["t1"], results["t0_no_quickack"]
    gen3 = results["gen3"]
    summary = {
        "benchmark": "card_read",
        "reads": args.reads,
        "protocol": "T=0",
        "apdus_per_read": t0["apdus"],
        "read_ms_median": t0["read"]["median"],
        "read_ms_p95": t0["read"]["p95"],
        "baseline_ms_median": t0["baseline"]["median"],
        "baseline_ms_p95": t0["baseline"]["p95"],
        "overhead_ratio": t0["ratio"],
        "overhead_ratio_of_medians": round(t0["read"]["median"] / t0["baseline"]["median"], 2),
        "apdus_only_ms_median": t0["apdus_only"]["median"],
        "apdu_only_overhead_ratio": t0["apdu_only_ratio"],
        "t1_overhead_ratio": t1["ratio"],
        "t1_apdus_per_read": t1["apdus"],
        "t1_read_ms_median": t1["read"]["median"],
        "t1_baseline_ms_median": t1["baseline"]["median"],
        "no_quickack_reads": args.slow_reads,
        "no_quickack_read_ms_median": slow["read"]["median"],
        "no_quickack_baseline_ms_median": slow["baseline"]["median"],
        "quickack_speedup": round(slow["read"]["median"] / t0["read"]["median"], 1),
        "gen3_protocol": "T=0",
        "gen3_apdus_per_read": gen3["apdus"],
        "gen3_psam_apdus_per_read": gen3["psam_apdus"],
        "gen3_read_ms_median": gen3["read"]["median"],
        "gen3_read_ms_p95": gen3["read"]["p95"],
        "gen3_baseline_ms_median": gen3["baseline"]["median"],
        "gen3_overhead_ratio": gen3["ratio"],
        "gen3_apdus_only_ms_median": gen3["apdus_only"]["median"],
        "gen3_apdu_only_overhead_ratio": gen3["apdu_only_ratio"],
        "gen3_overhead_ratio_of_medians": round(
            gen3["read"]["median"] / gen3["baseline"]["median"], 2
        ),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
