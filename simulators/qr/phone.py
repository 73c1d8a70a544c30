"""The citizen's phone: an e-card code from the central simulator, shown as a QR code.

    token = issue_token("http://127.0.0.1:8600", citizen_id, device_id="kiosk-01")
    write_png(token, Path("essc.png"))         # or show_window(token)

The code is drawn by segno at ECC level M with a 4-module quiet zone, dark on white, as the
national app shows it. The window needs a display (tkinter); headless machines write PNGs.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

MAX_ANSWER = 64 * 1024


class PhoneError(RuntimeError):
    """Central did not give a code (unreachable, unknown citizen, bad request)."""


def issue_token(central_url: str, citizen_id: str, *, device_id: str | None = None,
                ttl_s: int = 60, timeout_s: float = 5.0) -> dict[str, Any]:
    """POST /sim/v1/ecard-tokens; {"token", "expires_at"}."""
    import httpx

    body: dict[str, Any] = {"citizen_id": citizen_id, "ttl_s": ttl_s}
    if device_id:
        body["device_id"] = device_id
    try:
        response = httpx.post(central_url.rstrip("/") + "/sim/v1/ecard-tokens", json=body,
                              timeout=timeout_s, trust_env=False)
    except httpx.HTTPError as exc:
        raise PhoneError(f"central simulator not reachable at {central_url}: {exc}") from exc
    if len(response.content) > MAX_ANSWER:
        raise PhoneError("central's answer is too large")
    if response.status_code != 201:
        try:
            title = response.json().get("title", "")
        except ValueError:
            title = response.text[:200]
        raise PhoneError(f"central refused: {response.status_code} {title}")
    answer = response.json()
    if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
        raise PhoneError("central's answer has no token")
    return answer


def png_bytes(token: str, *, scale: int = 8) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make_qr(token, error="m", boost_error=False).save(out, kind="png", scale=scale,
                                                           border=4)
    return out.getvalue()


def write_png(token: str, path: Path, *, scale: int = 8) -> Path:
    from common.files import write_atomically

    write_atomically(path, png_bytes(token, scale=scale), mode=0o644)
    return path


def show_window(token: str, *, title: str = "电子社保卡", seconds: float = 60.0) -> None:
    """The code in a window until it is closed or the code has expired."""
    import base64
    import tkinter

    root = tkinter.Tk()
    root.title(title)
    image = tkinter.PhotoImage(data=base64.b64encode(png_bytes(token)).decode("ascii"))
    tkinter.Label(root, image=image, bg="white").pack(padx=16, pady=16)
    tkinter.Label(root, text="请将二维码对准扫码器 / Hold the code to the scanner").pack()
    root.after(int(seconds * 1000), root.destroy)
    root.mainloop()
