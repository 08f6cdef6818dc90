"""adaptive-robo: one household's goals, values and taxes turned into target holdings and orders.

    from engine import load_household, load_universe
    household = load_household()      # the shipped sample household
"""

from engine.config import load_household, load_universe
from engine.errors import *  # noqa: F403
from engine.errors import __all__ as _errors_all
from engine.model import *  # noqa: F403
from engine.model import __all__ as _model_all
from engine.settings import Settings

__version__ = "0.1.0"

__all__ = [*_errors_all, *_model_all, "Settings", "__version__", "load_household", "load_universe"]
