"""Infrastructure every service's HTTP side shares; nothing here knows any one service."""
