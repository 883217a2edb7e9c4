"""The Provenir mock-data generator: seeded, realistic sizes, and the model it rendered."""

from xmlmigrate.mock.generator import SIZE_PROFILES, GeneratedDoc, MockGenerator
from xmlmigrate.mock.model import AddressModel, AppModel, ContactModel, EmploymentModel
from xmlmigrate.mock.store import insert_documents, next_app_id

__all__ = [
    "SIZE_PROFILES",
    "AddressModel",
    "AppModel",
    "ContactModel",
    "EmploymentModel",
    "GeneratedDoc",
    "MockGenerator",
    "insert_documents",
    "next_app_id",
]
