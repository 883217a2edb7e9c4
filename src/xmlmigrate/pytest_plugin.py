"""The name the ``pytest11`` entry point keeps: the plugin itself is
:mod:`xmlmigrate.testing.plugin`.

Why a second name: the perf gate runs an older checkout's ``src`` against the installed entry
point, and checkouts from before ``xmlmigrate.testing`` have only this module. A stable entry
point name lets every version load its own plugin.
"""

from xmlmigrate.testing.plugin import *  # noqa: F403  (pytest reads hooks and fixtures here)
