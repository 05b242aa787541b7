"""Stationmaster: the appliance program (command line, configuration, runtime) and its admin contract."""

__version__ = "0.1.0"
