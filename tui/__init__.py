"""The Textual TUI: a client of the admin contract only."""
