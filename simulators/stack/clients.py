"""Small HTTP clients for the testers' controls: the device simulators, the kiosk's automation
hooks, the central simulator and the fleet manager. Used by the demo script and e2e tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


class ControlError(RuntimeError):
    pass


class _Client:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ControlError(f"{method} {self.base_url}{path} -> {response.status_code}: "
                               f"{response.text[:500]}")
        return response.json() if response.content else None

    def close(self) -> None:
        self._http.close()


class CardSimClient(_Client):
    """`kioskctl sim card serve` control API."""

    def insert(
        self,
        *,
        citizen_index: int | None = None,
        citizen_id: str | None = None,
        generation: int | None = None,
        protocol: str | None = None,
        pull_after_apdus: int | None = None,
        slot: int = 0,
    ) -> dict[str, Any]:
        body = {
            "citizen_index": citizen_index, "citizen_id": citizen_id, "generation": generation,
            "protocol": protocol, "pull_after_apdus": pull_after_apdus, "slot": slot,
        }
        return self._call("POST", "/insert", json={k: v for k, v in body.items() if v is not None})

    def remove(self, slot: int = 0) -> dict[str, Any]:
        return self._call("POST", "/remove", json={"slot": slot})

    def insert_psam(self) -> dict[str, Any]:
        """The terminal's PSAM into the SAM slot (vpcd's second reader)."""
        return self._call("POST", "/insert", json={"kind": "psam"})

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")


class KioskClient(_Client):
    """The kiosk's local status endpoint and, when enabled, its automation hooks."""

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")

    def wait_screen(self, screen: str, timeout: float = 20.0) -> dict[str, Any]:
        response = self._http.get(
            "/automation/wait", params={"screen": screen, "timeout": timeout},
            timeout=timeout + 5,
        )
        if response.status_code != 200:
            raise ControlError(
                f"kiosk did not reach screen {screen!r} within {timeout:.0f}s: "
                f"{response.status_code} {response.text[:300]}"
            )
        return response.json()

    def tap(self, target: str) -> None:
        self._call("POST", "/automation/tap", json={"target": target})

    def screenshot(self, name: str) -> Path:
        return Path(self._call("POST", "/automation/screenshot", json={"name": name})["path"])

    def texts(self) -> list[str]:
        return list(self._call("GET", "/automation/texts")["texts"])


class CentralSimClient(_Client):
    def citizens(self, offset: int = 0, limit: int = 50, **filters: Any) -> list[dict[str, Any]]:
        """Synthetic citizens; filters: card_status="normal", receiving_pension=True, ..."""
        params = {"offset": offset, "limit": limit, **filters}
        return list(self._call("GET", "/sim/v1/citizens", params=params)["items"])

    def citizen(self, index: int) -> dict[str, Any]:
        return dict(self._call("GET", f"/sim/v1/citizens/{index}"))

    def pension_payments(self, citizen_id: str, api_key: str) -> list[dict[str, Any]]:
        """Through the contract itself (/central/v1), as the edge server asks."""
        data = self._call(
            "POST", "/central/v1/pension-payments/query", json={"citizen_id": citizen_id},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        return list(data["items"])

    def ecard_token(self, citizen_id: str, *, device_id: str | None = None,
                    ttl_s: int = 60) -> str:
        """What the citizen's phone shows as an e-SSC QR code (single use, <= 60 s)."""
        body: dict[str, Any] = {"citizen_id": citizen_id, "ttl_s": ttl_s}
        if device_id is not None:
            body["device_id"] = device_id
        return str(self._call("POST", "/sim/v1/ecard-tokens", json=body)["token"])

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._call("PUT", "/sim/v1/faults", json=faults)

    def _contract(self, path: str, body: dict[str, Any], api_key: str) -> Any:
        return self._call("POST", f"/central/v1/{path}", json=body,
                          headers={"Authorization": f"Bearer {api_key}"})

    def subsidies(self, citizen_id: str, api_key: str) -> list[dict[str, Any]]:
        """The citizen's subsidy catalogue with eligibility (contract 1.1)."""
        return list(self._contract("subsidies/query", {"citizen_id": citizen_id},
                                   api_key)["items"])

    def precheck(self, application: dict[str, Any], api_key: str) -> dict[str, Any]:
        """The risk pre-check of an application payload (contract 1.2); records nothing."""
        return dict(self._contract("applications/precheck", application, api_key))

    def submissions(self, kind: str | None = None, limit: int = 500, offset: int = 0
                    ) -> list[dict[str, Any]]:
        """What the simulator recorded through /central/v1/submissions, oldest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if kind is not None:
            params["kind"] = kind
        return list(self._call("GET", "/sim/v1/submissions", params=params)["items"])

    def ingest(self) -> dict[str, int]:
        """Raw-ingest counters: items received, recorded, duplicates, refused, conflicts."""
        return dict(self._call("GET", "/sim/v1/ingest"))


    def bind_faces(self, identity: str, citizen_ids: list[str], *, make_due: bool = True
                   ) -> dict[str, int]:
        """Enrol the photo of a camera persona's identity as these pensioners' templates (and,
        with `make_due`, make their certification due today)."""
        return dict(self._call("POST", "/sim/v1/faces", json={
            "identity": identity, "citizen_ids": citizen_ids, "make_due": make_due}))


class CameraSimClient(_Client):
    """The simulated camera's control API: who stands in front of it, and what they were told."""

    def scene(self, persona: str, *, identity: str = "a", seed: int = 0) -> dict[str, Any]:
        return self._call("PUT", "/sim/v1/scene",
                          json={"persona": persona, "identity": identity, "seed": seed})

    def act(self, action: str | None) -> dict[str, Any]:
        return self._call("POST", "/sim/v1/act", json={"action": action})

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/sim/v1/scene")


class QrSimClient(_Client):
    """`kioskctl sim qr serve`: the serial scanner on a pty."""

    def scan(self, text: str, **faults: Any) -> dict[str, Any]:
        """`faults`: terminator, prefix, suffix, split, gap_ms, noise_before."""
        return self._call("POST", "/sim/v1/scan", json={"text": text, **faults})

    def unplug(self) -> dict[str, Any]:
        return self._call("POST", "/sim/v1/unplug")

    def replug(self) -> dict[str, Any]:
        return self._call("POST", "/sim/v1/replug")

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/sim/v1/status")


class IdCardSimClient(_Client):
    """`kioskctl sim idcard serve`: a resident ID card reader on a pty."""

    def place(self, **card: Any) -> dict[str, Any]:
        """`card`: citizen_index or citizen_id, name, expired, valid_until, card_type."""
        return self._call("POST", "/place", json=card)

    def remove(self) -> dict[str, Any]:
        return self._call("POST", "/remove")

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")


class PrinterSimClient(_Client):
    """`kioskctl sim printer serve`: the virtual ESC/POS receipt printer."""

    def paper(self, state: str, after_lines: int | None = None) -> dict[str, Any]:
        return self._call("PUT", "/sim/v1/paper", json={"state": state, "after_lines": after_lines})

    def jobs(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/sim/v1/jobs"))

    def job_png(self, job_id: int) -> bytes:
        response = self._http.get(f"/sim/v1/jobs/{job_id}/png")
        if response.status_code != 200:
            raise ControlError(f"job {job_id} png -> {response.status_code}")
        return response.content

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/sim/v1/status")


class EdgeClient(_Client):
    """The edge API as one terminal (its device token): what the demo scripts when the kiosk's
    screens are not the point."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout)
        self._auth = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> Any:
        return self._call("GET", f"/api/v1{path}", headers=self._auth)

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        """One POST; `key` is its Idempotency-Key (send the same one again to retry)."""
        headers = dict(self._auth)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self._call("POST", f"/api/v1{path}", json=body, headers=headers)

    def delete(self, path: str, key: str) -> None:
        self._call("DELETE", f"/api/v1{path}", headers={**self._auth, "Idempotency-Key": key})


class FleetManagerClient(_Client):
    def devices(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/v1/devices")["items"])

    def device(self, device_id: str) -> dict[str, Any] | None:
        response = self._http.get(f"/api/v1/devices/{device_id}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ControlError(f"GET device {device_id} -> {response.status_code}")
        return dict(response.json())
