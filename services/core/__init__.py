"""The bottom layer: the value types, errors and parsers every other layer shares; no I/O of its own."""
