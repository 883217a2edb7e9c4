"""The Provenir mock-data generator: seeded, realistic sizes, edge cases, and the model it rendered."""

from xmlmigrate.mock.from_contract import (
    ContractGenerator,
    MixedGenerator,
    default_generator,
    generator_for,
)
from xmlmigrate.mock.generator import SIZE_PROFILES, GeneratedDoc, MockGenerator
from xmlmigrate.mock.model import INVALID, AppModel, ClampTo, MockElement
from xmlmigrate.mock.store import insert_documents, next_app_id

__all__ = [
    "INVALID",
    "SIZE_PROFILES",
    "AppModel",
    "ClampTo",
    "ContractGenerator",
    "GeneratedDoc",
    "MixedGenerator",
    "MockElement",
    "MockGenerator",
    "default_generator",
    "generator_for",
    "insert_documents",
    "next_app_id",
]
