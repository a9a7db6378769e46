"""X12 5010: a reader for any interchange, an 837P (005010X222A1) writer, acknowledgement readers.

Public API (import from here):

- `read_interchange(data) -> ReadResult`: envelopes, segments, loops, defects; never raises.
- `write_837p(interchange) -> str`: an 837P interchange from `claim837` dataclasses.
- `read_999`, `read_277ca`, `read_ta1`: typed acknowledgements.
"""

from praxis.formats.x12.claim837 import (
    Address,
    BillingProvider,
    Claim,
    ClaimAdjustment,
    ControlNumbers,
    Interchange837,
    InterchangeSettings,
    LineAdjudication,
    OtherCoverage,
    OtherPayer,
    OtherSubscriber,
    Patient,
    Payer,
    PayToAddress,
    Provider,
    Receiver,
    Separators,
    ServiceLine,
    Submitter,
    Subscriber,
    Transaction837,
)

__all__ = [
    "Address",
    "BillingProvider",
    "Claim",
    "ClaimAdjustment",
    "ControlNumbers",
    "Interchange837",
    "InterchangeSettings",
    "LineAdjudication",
    "OtherCoverage",
    "OtherPayer",
    "OtherSubscriber",
    "Patient",
    "PayToAddress",
    "Payer",
    "Provider",
    "Receiver",
    "Separators",
    "ServiceLine",
    "Submitter",
    "Subscriber",
    "Transaction837",
]
