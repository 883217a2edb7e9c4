"""The stages of one record's transform, each a pure function of its input and the compiled
contract: ``xml`` (decode and parse with the hardened, bounded-memory parser), ``validate``
(pre-processing rules → a rejection code) and ``mapping`` (document → rows). They are chained,
with stage timings, by :func:`xmlmigrate.run.transform_record`."""

from xmlmigrate.contract.scope import Scope
from xmlmigrate.stages.errors import XmlRejected
from xmlmigrate.stages.mapping import map_application
from xmlmigrate.stages.validate import document_app_id, parse_app_id, validate_document
from xmlmigrate.stages.xml import ParsedDocument, parse_document

__all__ = [
    "ParsedDocument",
    "Scope",
    "XmlRejected",
    "document_app_id",
    "map_application",
    "parse_app_id",
    "parse_document",
    "validate_document",
]
