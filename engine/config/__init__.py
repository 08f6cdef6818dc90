"""Configuration the user edits (YAML in ``config/``), loaded through pydantic with clear errors.

    from engine.config import load_universe, load_household
    universe = load_universe(); household = load_household("config/households/sample.yaml")

The shipped defaults live inside the package (``engine/config/defaults``, linked as ``config/`` at
the top of the repository) so that a wheel carries them. ``ROBO_CONFIG_DIR`` points elsewhere.
"""

from engine.config.loader import (
    config_dir,
    default_file,
    dump_household,
    household_from_dict,
    household_to_dict,
    load_household,
    load_universe,
    load_yaml,
    universe_from_dict,
)

__all__ = [
    "config_dir",
    "default_file",
    "dump_household",
    "household_from_dict",
    "household_to_dict",
    "load_household",
    "load_universe",
    "load_yaml",
    "universe_from_dict",
]
