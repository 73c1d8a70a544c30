"""Names of the screens the flow can show, and of the user actions it understands."""

from __future__ import annotations

from enum import StrEnum


class ScreenName(StrEnum):
    ATTRACT = "attract"  # "please insert your card"
    READING = "reading"  # the card is being read: do not pull it
    IDENTIFYING = "identifying"  # asking the edge who this is
    HOME = "home"  # greeting and the services on offer
    LOADING = "loading"  # fetching a service's data
    BENEFITS = "benefits"  # pension payments and participation
    MESSAGE = "message"  # something to tell the citizen (failure, retrying, advice)
    ENDING = "ending"  # the session is over: please take your card


class Action(StrEnum):
    """What a tap asks for. Several buttons may ask for the same action (END on two screens)."""

    START_JOURNEY = "start-journey"  # a service on the home screen; Tap.journey names it
    END = "end"
    BACK = "back"
    OK = "ok"
    EXTEND = "extend"  # "I need more time" on the idle warning
    NEXT_PAGE = "next-page"
    PREVIOUS_PAGE = "previous-page"
