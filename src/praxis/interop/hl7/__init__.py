"""HL7 v2 over MLLP, inbound: ADT A04/A28 register, A08/A31 update, A40 merge (see docs/hl7.md)."""
