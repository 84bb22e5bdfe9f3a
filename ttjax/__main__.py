"""``python -m ttjax`` is the same as the ``ttjax`` command."""

import sys

from .cli import main

sys.exit(main())
