"""Search's use cases and event handlers, by verb group."""
