"""Pure codecs (X12 now; HL7 v2 and FHIR builders later).

A low layer just above `praxis.platform`: bytes/str in, typed values out and back. No
database, no web framework, no domain imports, no file or network I/O, so any domain may
import it (billing writes 837s with `praxis.formats.x12`).
"""
