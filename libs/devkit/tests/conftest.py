"""pytester runs a session of its own to show how a fixture fails."""

pytest_plugins = ["pytester"]
