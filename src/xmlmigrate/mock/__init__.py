"""The Provenir mock-data generator: documents for any contract, seeded, with the realism of real
documents (sizes, bulk, edge cases), and the model each was rendered from."""

from xmlmigrate.mock.from_contract import (
    ContractGenerator,
    ContractModel,
    declared_census,
    default_generator,
    generator_for,
)
from xmlmigrate.mock.generator import (
    SIZE_PROFILES,
    GeneratedDoc,
    MixedGenerator,
    MockGenerator,
    ProvenirProfile,
)
from xmlmigrate.mock.model import INVALID, AppModel, ClampTo, MockElement
from xmlmigrate.mock.store import insert_documents, next_app_id

__all__ = [
    "INVALID",
    "SIZE_PROFILES",
    "AppModel",
    "ClampTo",
    "ContractGenerator",
    "ContractModel",
    "GeneratedDoc",
    "MixedGenerator",
    "MockElement",
    "MockGenerator",
    "ProvenirProfile",
    "declared_census",
    "default_generator",
    "generator_for",
    "insert_documents",
    "next_app_id",
]
