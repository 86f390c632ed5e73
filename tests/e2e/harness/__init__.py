"""The e2e harness: infrastructure providers, service processes, the platform of one run."""
