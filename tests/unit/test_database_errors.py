"""Every foreign key has a conscious answer for a row it named that a racing delete took."""

from adapters.sqlalchemy.errors import VANISHED_REFERENCE
from adapters.sqlalchemy.tables import metadata
from application.common.errors import ApplicationError


def test_every_foreign_key_maps_to_an_application_error() -> None:
    foreign_keys = {
        str(constraint.name)
        for table in metadata.sorted_tables
        for constraint in table.foreign_key_constraints
    }

    assert set(VANISHED_REFERENCE) == foreign_keys
    assert all(isinstance(make(), ApplicationError) for make in VANISHED_REFERENCE.values())
