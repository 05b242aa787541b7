"""The firmware images: validation with esptool and the content-addressed store."""
