"""Auth's backends are PostgreSQL (through the unit of work) and its own signing keys
(keys.py); it calls no outside service, so no adapter module is needed yet."""
