"""The `mapping` field of an import upload (patients and care): a JSON object of column name to
field name, or a 422 naming `mapping`."""

from __future__ import annotations

import pytest

from praxis.patients.importer import parse_mapping
from praxis.platform.errors import ValidationProblem


def test_a_json_object_of_names_is_the_mapping() -> None:
    assert parse_mapping('{"Surname": "last_name", "DOB": "date_of_birth"}') == {
        "Surname": "last_name", "DOB": "date_of_birth"}
    assert parse_mapping(None) is None and parse_mapping("") is None


@pytest.mark.parametrize("text", ["{not json", '["last_name"]', '{"Surname": 3}', '"last_name"'])
def test_anything_else_is_a_422_naming_mapping(text: str) -> None:
    with pytest.raises(ValidationProblem) as caught:
        parse_mapping(text)
    assert caught.value.field == "mapping"
