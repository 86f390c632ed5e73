"""One module per backend behind a port."""
