"""A/B updates on the terminal: two slots and a `current` link (`slots`), the durable update
state that survives a power cut at any point (`state`), what the kiosk must report before a
release is committed (`health`), and the phases that drive them (`runner`)."""
