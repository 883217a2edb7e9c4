"""xmlmigrate: contract-driven migration of Provenir XML into relational tables."""

__version__ = "0.2.0"
