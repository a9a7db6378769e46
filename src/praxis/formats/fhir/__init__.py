"""FHIR R4 resources as plain dicts: builders (ours -> FHIR) and readers (FHIR -> our fields)."""
