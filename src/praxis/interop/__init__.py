"""Integration channels (FHIR R4 facade; later HL7 v2, webhooks): they call domain services only."""
