"""``python -m robo`` is the ``robo`` command."""

import sys

from robo.cli import main

sys.exit(main())
