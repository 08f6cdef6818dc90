"""The ``robo`` command line: commands over the engine's Python API (see ``robo --help``)."""
