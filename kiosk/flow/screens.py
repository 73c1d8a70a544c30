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
    CONTRIBUTIONS = "contributions"  # contributions by year and scheme
    PENSION_ACCOUNT = "pension-account"  # the pension personal account, year by year
    SUBSIDIES = "subsidies"  # the subsidies this citizen may apply for
    KEYPAD = "keypad"  # one field typed on a large keypad (phone, digits, ID number, PIN)
    PRECHECK = "precheck"  # the pre-check's result in plain words
    CONFIRM = "confirm"  # what will be submitted, and the button that submits it
    SUBMITTING = "submitting"  # a submission is on its way to the edge
    RECEIPT = "receipt"  # its number, QR code and state (sent, queued, refused)
    APPLICATIONS = "applications"  # the citizen's applications
    APPLICATION = "application"  # one application's history, to the bank transfer
    MESSAGE = "message"  # something to tell the citizen (failure, retrying, advice)
    ENDING = "ending"  # the session is over: please take your card
    CERTIFY = "certify"  # certification status in plain words; a failed capture's reason
    CAPTURE = "capture"  # guided face capture: live preview, challenge, progress
    PIN = "pin"  # the card's PIN on a large masked keypad: tries left, locked, changed
    PRINTING = "printing"  # a certificate is being issued and printed: progress
    CERTIFICATE = "certificate"  # printed (or paper out): take it, the QR code for the PDF


class Action(StrEnum):
    """What a tap asks for. Several buttons may ask for the same action (END on two screens)."""

    START_JOURNEY = "start-journey"  # a service on the home screen; Tap.journey names it
    END = "end"
    BACK = "back"
    OK = "ok"
    EXTEND = "extend"  # "I need more time" on the idle warning
    NEXT_PAGE = "next-page"
    PREVIOUS_PAGE = "previous-page"
    # Journey steps (Tap.value carries what was chosen or typed)
    CHOOSE = "choose"  # a row of a list; value: its index
    KEY = "key"  # a keypad key; value: the character
    ERASE = "erase"  # the keypad's backspace
    NEXT = "next"  # this step is done: go on
    CONFIRM = "confirm"  # submit what the confirmation screen shows
    DONE = "done"  # the receipt has been read: back to the services
    REPRINT = "reprint"  # print the interrupted certificate again (marked as a reprint)
    # Presentation (kiosk.flow.prefs), on any screen: they change how, never what, it shows.
    TOGGLE_MODE = "toggle-mode"  # elder (large text, slower, spoken) <-> normal
    TOGGLE_LANGUAGE = "toggle-language"  # 中文 <-> English
    TOGGLE_MUTE = "toggle-mute"
    VOLUME_UP = "volume-up"
    VOLUME_DOWN = "volume-down"
