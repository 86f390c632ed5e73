"""Media: uploads, resized variants and the object storage that holds them."""
