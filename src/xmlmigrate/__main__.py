"""``python -m xmlmigrate``: the same as the ``xmlmigrate`` command."""

import sys

from xmlmigrate._entry import main

sys.exit(main())
