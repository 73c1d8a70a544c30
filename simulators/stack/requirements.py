"""System packages the stack needs, checked up front so a missing one is named, not guessed at."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Requirement:
    what: str
    debian_package: str
    executable: str | None = None
    path: str | None = None

    def present(self) -> bool:
        if self.executable is not None:
            return shutil.which(self.executable) is not None or Path(
                f"/usr/sbin/{self.executable}"
            ).exists()
        return self.path is not None and Path(self.path).exists()


REQUIREMENTS: dict[str, Requirement] = {
    r.what: r
    for r in (
        Requirement("pcscd", "pcscd", executable="pcscd"),
        Requirement("vpcd", "vsmartcard-vpcd", path="/usr/lib/pcsc/drivers/serial/libifdvpcd.so"),
        Requirement("unshare", "util-linux", executable="unshare"),
        Requirement("mosquitto", "mosquitto", executable="mosquitto"),
        Requirement(
            "cjk-font", "fonts-wqy-microhei", path="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
        ),
        Requirement("tesseract", "tesseract-ocr", executable="tesseract"),
        Requirement(
            "tesseract-chi-sim",
            "tesseract-ocr-chi-sim",
            path="/usr/share/tesseract-ocr/5/tessdata/chi_sim.traineddata",
        ),
    )
}


class MissingSystemPackage(RuntimeError):
    pass


def require(*names: str) -> None:
    """Raise MissingSystemPackage naming every Debian package that is absent."""
    missing = [REQUIREMENTS[n] for n in names if not REQUIREMENTS[n].present()]
    if missing:
        pkgs = " ".join(sorted({m.debian_package for m in missing}))
        what = ", ".join(m.what for m in missing)
        raise MissingSystemPackage(
            f"missing system components ({what}); install the Debian packages: {pkgs}"
            " (scripts/setup does this when run as root)"
        )
