"""Field mode on the kiosk: staff credentials checked offline with a persisted lockout
(`credentials`), and the staff session that spans many citizens (`session`)."""
