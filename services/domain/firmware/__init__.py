"""The firmware images: validation with esptool, the content-addressed store and the library the admin fills."""
