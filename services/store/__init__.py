"""The store: the SQLite registry and the journal that writes it and tells the event bus."""
