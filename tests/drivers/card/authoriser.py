"""The stand-in issuer's key centre (simulators/card/keys.py) as the card driver's
ReloadAuthoriser: what the edge would do for a staff-authorised PIN reload, for tests."""

from __future__ import annotations

from drivers.card.interface import ReloadAuthoriser, ReloadRefused, ReloadRequest
from simulators.card import keys


def key_centre_authoriser(centre: keys.KeyCentre | None = None) -> ReloadAuthoriser:
    centre = centre or keys.KeyCentre()

    def authorise(request: ReloadRequest) -> bytes:
        try:
            return centre.authorise(request.operation, request.card_id_code, request.challenge,
                                    request.staff.staff_id, request.staff.code)
        except keys.ReloadRefused as exc:
            raise ReloadRefused(str(exc)) from exc

    return authorise
