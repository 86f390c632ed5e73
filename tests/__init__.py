"""Cross-service tests: contracts and end-to-end workflows."""
