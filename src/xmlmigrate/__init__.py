"""xmlmigrate: contract-driven migration of Provenir XML into relational tables."""

__version__ = "0.1.0"
