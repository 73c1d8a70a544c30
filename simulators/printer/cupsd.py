"""A private cupsd with virtual A4 queues, for tests, benchmarks and the demo.

Everything lives in one base directory: configuration, spool, cache, state, logs and the
printed PDFs. Without one given, it makes its own (/tmp/hrss-cupsd-*, searchable by lp) and
stop() removes it; a given one is removed too when asked (`owns_base`), else kept.
cupsd listens on 127.0.0.1:PORT only (no socket in /run/cups), with browsing,
the web interface and authentication off, so lpadmin and IPP clients work without a password
and nothing of the machine's own CUPS is touched (print-notes.md 1).

Two kinds of queue:
- `add_pdf_queue()`: cups-pdf, the Debian virtual PDF printer, through CUPS's whole filter
  chain (pdftopdf, pdftops, gs). cups-pdf reads its output folder from
  /etc/cups/cups-pdf.conf only, so cupsd runs in its own mount namespace with our conf
  bind-mounted over that file (needs root: CAP_SYS_ADMIN); the machine's file never changes.
  Its PDFs keep the pages and the raster, not the text (fonts become outlines).
- `add_capture_queue()`: our own backend writing each job as it arrives after pdftopdf
  (job-N.prn, a PDF with its text), and simulating paper out (`set_paper_out`) and toner low
  (`set_toner_low`) the way a real backend reports them: `STATE: +media-empty-error`.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

log = logging.getLogger(__name__)

CUPS_LIB = Path("/usr/lib/cups")
CUPS_PDF_CONF = Path("/etc/cups/cups-pdf.conf")
CUPS_PDF_PPD = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"
GENERIC_PDF_PPD = "lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd"
START_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 15.0

CAPTURE_BACKEND = r"""#!/bin/sh
# A capture printer for tests: writes each job (after pdftopdf: a PDF) to DIR/job-N.prn, where
# the device URI is vprinter:DIR. Paper out and toner low are flag files in DIR, reported with
# the STATE: messages real backends send; the reasons are cleared again explicitly, since
# CUPS keeps a reason until its backend removes it (print-notes.md 1).
if [ $# -eq 0 ]; then
  echo 'direct vprinter "Unknown" "Virtual capture printer (hrss-kiosk tests)"'
  exit 0
fi
dir="${DEVICE_URI#vprinter:}"
if [ -e "$dir/TONER_LOW" ]; then
  echo "STATE: +toner-low-warning" >&2
else
  echo "STATE: -toner-low-warning" >&2
fi
if [ -e "$dir/PAPER_OUT" ]; then
  echo "STATE: +media-empty-error" >&2
  echo "ERROR: Out of paper (simulated)" >&2
  # A real printer waits for paper too; the job stays 'processing' meanwhile.
  while [ -e "$dir/PAPER_OUT" ]; do sleep 0.05; done
  echo "INFO: Paper loaded" >&2
fi
echo "STATE: -media-empty-error" >&2
out="$dir/job-$1.prn"
if [ $# -ge 6 ]; then cat "$6" > "$out.tmp"; else cat > "$out.tmp"; fi
mv "$out.tmp" "$out"
exit 0
"""


class CupsdError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_packages() -> list[str]:
    """Debian packages this helper needs that are not installed."""
    missing = []
    if not (shutil.which("cupsd") or Path("/usr/sbin/cupsd").exists()):
        missing.append("cups")
    if not (CUPS_LIB / "backend" / "cups-pdf").exists():
        missing.append("printer-driver-cups-pdf")
    if not shutil.which("unshare"):
        missing.append("util-linux")
    return missing


def new_base() -> Path:
    """A fresh base directory outside any private folder (pytest's tmp is 0700; CUPS's
    filters run as lp and cups-pdf's gs as nobody)."""
    base = Path(tempfile.mkdtemp(prefix="hrss-cupsd-"))
    base.chmod(0o755)
    return base


class PrivateCupsd:
    """`with PrivateCupsd() as cupsd:` a running scheduler on a free port, in a base directory
    of its own that stop() removes (or in `base_dir`, kept unless `owns_base`)."""

    def __init__(self, base_dir: Path | None = None, port: int | None = None, *,
                 owns_base: bool | None = None) -> None:
        self.owns_base = base_dir is None if owns_base is None else owns_base
        base_dir = base_dir if base_dir is not None else new_base()
        self.base = base_dir
        self.port = port or _free_port()
        self.etc = base_dir / "etc"
        self.serverbin = base_dir / "serverbin"
        self.spool = base_dir / "spool"
        self.logs = base_dir / "log"
        self.pdf_dir = base_dir / "pdfout"
        self.capture_root = base_dir / "capture"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._captures: dict[str, Path] = {}

    @property
    def server(self) -> str:
        """host:port for IPP clients (CupsDocumentPrinter(server=...), lp -h)."""
        return f"127.0.0.1:{self.port}"

    # Set-up -------------------------------------------------------------------------------------

    def _check_reachable(self) -> None:
        # Filters and cups-driverd run as lp, cups-pdf's gs as nobody: every folder above the
        # base must let others through (pytest's /tmp/pytest-of-root is 0700).
        for folder in self.base.resolve().parents:
            if not folder.stat().st_mode & stat.S_IXOTH:
                raise CupsdError(f"{folder} is not searchable by others (lp, nobody): put the "
                                 f"base directory elsewhere, e.g. tempfile.mkdtemp()")

    def _write_config(self) -> None:
        self._check_reachable()
        for folder in (self.base, self.etc, self.serverbin, self.spool, self.spool / "tmp",
                       self.logs, self.base / "cache", self.base / "state", self.pdf_dir,
                       self.pdf_dir / "anon", self.base / "pdfspool", self.base / "gstmp",
                       self.capture_root):
            folder.mkdir(parents=True, exist_ok=True)
            # Filters run as lp and cups-pdf writes as nobody: they must reach these folders.
            folder.chmod(0o755)
        (self.spool / "tmp").chmod(0o1777)
        (self.pdf_dir / "anon").chmod(0o1777)
        # cups-pdf runs gs as the job's user (nobody for an unknown one): its temporary
        # files cannot go under the spool, which cupsd keeps at root:lp 0710.
        (self.base / "gstmp").chmod(0o1777)
        for name in ("filter", "daemon", "cgi-bin", "monitor", "notifier", "driver"):
            link = self.serverbin / name
            if not link.exists() and (CUPS_LIB / name).exists():
                link.symlink_to(CUPS_LIB / name)
        backends = self.serverbin / "backend"
        backends.mkdir(exist_ok=True)
        backends.chmod(0o755)
        for backend in (CUPS_LIB / "backend").iterdir():
            link = backends / backend.name
            if not link.exists():
                link.symlink_to(backend)
        capture = backends / "vprinter"
        capture.write_text(CAPTURE_BACKEND)
        # 0700 root: CUPS runs a backend that only root may execute as root (the flag files
        # and the output folder then need no permissions of their own).
        capture.chmod(stat.S_IRWXU)
        b = self.base
        (self.etc / "cups-files.conf").write_text(
            f"ServerRoot {self.etc}\nServerBin {self.serverbin}\nDataDir /usr/share/cups\n"
            f"RequestRoot {self.spool}\nTempDir {self.spool / 'tmp'}\nCacheDir {b}/cache\n"
            f"StateDir {b}/state\nErrorLog {self.logs}/error_log\n"
            f"AccessLog {self.logs}/access_log\nPageLog {self.logs}/page_log\n"
            "User lp\nGroup lp\nSystemGroup root\nFileDevice No\n"
        )
        (self.etc / "cupsd.conf").write_text(
            f"Listen 127.0.0.1:{self.port}\nServerName 127.0.0.1\nBrowsing No\n"
            "BrowseLocalProtocols none\nWebInterface No\nDefaultEncryption Never\n"
            "DefaultAuthType None\nLogLevel info\nMaxJobs 500\nPreserveJobFiles No\n"
            "<Location />\n  Order allow,deny\n  Allow from 127.0.0.1\n</Location>\n"
            "<Policy default>\n  JobPrivateAccess all\n  JobPrivateValues none\n"
            "  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
        )
        (b / "cups-pdf.conf").write_text(
            f"Out {self.pdf_dir}\nAnonDirName {self.pdf_dir}/anon\nSpool {b}/pdfspool\n"
            f"Log {self.logs}\nGSTmp {b}/gstmp\nGrp lp\nLogType 3\n"
        )

    def start(self) -> PrivateCupsd:
        missing = missing_packages()
        if missing:
            raise CupsdError("missing Debian packages: " + " ".join(missing))
        self._write_config()
        cupsd = shutil.which("cupsd") or "/usr/sbin/cupsd"
        files = f"-c {self.etc}/cupsd.conf -s {self.etc}/cups-files.conf"
        check = subprocess.run([cupsd, "-t", *files.split()], capture_output=True,
                               timeout=COMMAND_TIMEOUT_S, check=False)
        if check.returncode != 0:
            raise CupsdError(f"cupsd -t: {check.stderr.decode(errors='replace')[:500]}")
        # A private mount namespace: our cups-pdf.conf over the stock one, seen by this
        # cupsd and its children only. `exec` keeps the PID: it is cupsd's.
        script = (f'mount --bind "{self.base}/cups-pdf.conf" {CUPS_PDF_CONF} && '
                  f"exec {cupsd} -f {files}")
        if not CUPS_PDF_CONF.exists():
            script = f"exec {cupsd} -f {files}"
        self._stderr = (self.logs / "cupsd.stderr").open("wb")
        self._proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "--", "sh", "-c", script],
            # In our process group: whoever stops us (a supervisor's SIGTERM/SIGKILL to the
            # group, Ctrl-C) stops cupsd too, so none is left behind.
            stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise CupsdError(f"cupsd exited with {self._proc.returncode}: {self._tail()}")
            if self._answers():
                log.info("private cupsd on %s (%s)", self.server, self.base)
                return self
            time.sleep(0.02)  # polling a process we just started; nothing pushes readiness
        tail = self._tail()  # before stop(), which may remove the logs with the base
        self.stop()
        raise CupsdError(f"cupsd did not answer within {START_TIMEOUT_S:g} s: {tail}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                pass
        except OSError:
            return False
        # `lpstat -r` exits 0 even when the scheduler is down: read what it says.
        result = self.run("lpstat", "-r", check=False)
        return "is running" in result.stdout

    def _tail(self) -> str:
        parts = []
        for name in ("cupsd.stderr", "error_log"):
            path = self.logs / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-1500:])
        return "\n".join(parts)

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a CUPS command-line tool (lpadmin, lp, lpstat, cupsenable...) against us."""
        result = subprocess.run([tool, "-h", self.server, *args], capture_output=True,
                                text=True, timeout=COMMAND_TIMEOUT_S, check=False)
        if check and result.returncode != 0:
            raise CupsdError(f"{tool} {' '.join(args)}: {result.stderr.strip()[:300]}")
        return result

    def add_pdf_queue(self, name: str = "PDF") -> str:
        self.run("lpadmin", "-p", name, "-E", "-v", "cups-pdf:/", "-m", CUPS_PDF_PPD,
                 "-o", "media-default=A4", "-o", "printer-is-shared=false")
        return name

    def add_capture_queue(self, name: str = "A4") -> Path:
        folder = self.capture_root / name
        folder.mkdir(parents=True, exist_ok=True)
        self.run("lpadmin", "-p", name, "-E", "-v", f"vprinter:{folder}", "-m",
                 GENERIC_PDF_PPD, "-o", "media-default=A4", "-o", "printer-is-shared=false")
        self._captures[name] = folder
        return folder

    def set_paper_out(self, queue: str, out: bool) -> None:
        self._flag(queue, "PAPER_OUT", out)

    def set_toner_low(self, queue: str, low: bool) -> None:
        self._flag(queue, "TONER_LOW", low)

    def _flag(self, queue: str, name: str, on: bool) -> None:
        flag = self._captures[queue] / name
        if on:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    def output_for(self, job_id: int, queue: str | None = None) -> Path | None:
        """The printed file of CUPS job `job_id`: a capture queue's job-N.prn, or cups-pdf's
        PDF (named `<title>-job_N.pdf` with junk in the title: found by its job number)."""
        folders = [self._captures[queue]] if queue in self._captures else list(
            self._captures.values())
        for folder in folders:
            path = folder / f"job-{job_id}.prn"
            if path.exists():
                return path
        if queue is None or queue not in self._captures:
            for path in self.pdf_dir.rglob(f"*job_{job_id}*.pdf"):
                name = path.name
                index = name.find(f"job_{job_id}")
                after = name[index + len(f"job_{job_id}"):index + len(f"job_{job_id}") + 1]
                if after in (".", "-", "_"):
                    return path
        return None

    # Teardown -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop cupsd (its filters and backends with it); remove the base when it is ours."""
        proc, self._proc = self._proc, None
        stderr, self._stderr = self._stderr, None
        if stderr is not None:
            stderr.close()  # cupsd keeps its own descriptor
        if proc is not None and proc.poll() is None:
            # unshare and sh exec'd: the PID is cupsd's, which stops its filters and backends.
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5.0)
        if self.owns_base:
            # Spool, logs and printed PDFs (owned by lp and nobody): nothing outlives the run.
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PrivateCupsd:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


@dataclass(frozen=True)
class CupsdService:
    """What the Stack needs to run `kioskctl sim printer cupsd` and point a kiosk at it."""

    spec: Any  # simulators.stack.supervisor.ProcessSpec
    server: str  # the kiosk's [peripheral_options.docprinter] server
    capture_queue: str
    pdf_queue: str


def stack_spec(*, port: int | None = None, capture_queue: str = "A4", pdf_queue: str = "PDF",
               name: str = "cupsd", base: Path | None = None,
               remove_base: bool = False) -> CupsdService:
    """`kioskctl sim printer cupsd` as a supervised process, ready once both queues answer.
    `remove_base`: the process removes `base` when it stops (a folder made for this run)."""
    from simulators.stack.services import kioskctl
    from simulators.stack.supervisor import ProcessSpec

    port = port or _free_port()
    server = f"127.0.0.1:{port}"

    def ready() -> bool:
        try:
            result = subprocess.run(["lpstat", "-h", server, "-p", capture_queue, pdf_queue],
                                    capture_output=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0

    argv = kioskctl("sim", "printer", "cupsd", "--port", str(port), "--capture-queue",
                    capture_queue, "--pdf-queue", pdf_queue,
                    *(("--base", str(base)) if base is not None else ()),
                    *(("--remove-base",) if remove_base and base is not None else ()))
    spec = ProcessSpec(name=name, argv=argv, ready=ready)
    return CupsdService(spec=spec, server=server, capture_queue=capture_queue,
                        pdf_queue=pdf_queue)
