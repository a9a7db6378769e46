"""Pure codecs for interchange formats (FHIR, X12, HL7 v2): no database, web or domain imports."""
