"""``python -m xmlmigrate.cli``: the same as the ``xmlmigrate`` command."""

import sys

from xmlmigrate.cli import main

sys.exit(main())
