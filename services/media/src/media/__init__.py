"""Media: uploads validated by content, resized variants, object storage."""
