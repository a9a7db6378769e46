"""X12 5010: a reader for any interchange, an 837P (005010X222A1) writer, acknowledgement readers.

Public API (import from here):

- `read_interchange(data) -> ReadResult`: envelopes, segments, loops, defects; never raises.
- `write_837p(interchange) -> str`: an 837P interchange from `claim837` dataclasses.
- `read_837p(data) -> Read837`: the claims of an 837P back as the same dataclasses.
- `read_835(data) -> Read835`: remittances as payments by CLP01 / REF*6R, in cents, balanced.
- `read_999`, `read_277ca`, `read_ta1` (all `read_acknowledgements`): typed acknowledgements.
"""

from praxis.formats.x12.acks import (
    Acknowledgements,
    ClaimAck,
    ClaimStatus,
    FunctionalAck,
    InterchangeAck,
    TransactionAck,
    read_277ca,
    read_999,
    read_acknowledgements,
    read_ta1,
)
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
    ServiceFacility,
    ServiceLine,
    Submitter,
    Subscriber,
    Transaction837,
)
from praxis.formats.x12.read837 import Read837, read_837p
from praxis.formats.x12.reader import Defect, ReadResult, read_interchange
from praxis.formats.x12.remit835 import ClaimPayment, Read835, Remittance, ServicePayment, read_835
from praxis.formats.x12.write837 import X12WriteError, check_interchange, write_837p

__all__ = [
    "Acknowledgements",
    "Address",
    "BillingProvider",
    "Claim",
    "ClaimAck",
    "ClaimAdjustment",
    "ClaimPayment",
    "ClaimStatus",
    "ControlNumbers",
    "Defect",
    "FunctionalAck",
    "Interchange837",
    "InterchangeAck",
    "InterchangeSettings",
    "LineAdjudication",
    "OtherCoverage",
    "OtherPayer",
    "OtherSubscriber",
    "Patient",
    "PayToAddress",
    "Payer",
    "Provider",
    "Read835",
    "Read837",
    "ReadResult",
    "Receiver",
    "Remittance",
    "Separators",
    "ServiceFacility",
    "ServiceLine",
    "ServicePayment",
    "Submitter",
    "Subscriber",
    "Transaction837",
    "TransactionAck",
    "X12WriteError",
    "check_interchange",
    "read_277ca",
    "read_835",
    "read_837p",
    "read_999",
    "read_acknowledgements",
    "read_interchange",
    "read_ta1",
    "write_837p",
]
