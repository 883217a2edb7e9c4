"""What test suites import (as ``click.testing`` is click's): the pytest plugin's fixtures and
helpers (``plugin``), the oracle that computes a generated document's expected rows
independently of the mapper (``expected``), and hypothesis strategies of generated and
mutated documents (``strategies``, needs hypothesis). Nothing here is used by a migration."""
