"""End-to-end workflows against real infrastructure (`just e2e`)."""
