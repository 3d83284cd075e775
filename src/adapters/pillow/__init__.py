"""Image thumbnails with Pillow."""
