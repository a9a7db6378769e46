"""Channels to other systems: the FHIR facade, HL7 v2 over MLLP, webhooks."""
