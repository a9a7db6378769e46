"""The 837P (005010X222A1) writer's input: plain frozen dataclasses, no behaviour.

The caller (billing) maps its claims onto these and hands an `Interchange837` to
`praxis.formats.x12.write_837p`. The writer decides nothing about what is billable: it
writes what it is given, in the implementation guide's order, and refuses data that cannot
be written as a valid file (e.g. 13 diagnoses, a separator inside a name).

Identifiers that come back later, so a remittance (835) reader and a ledger can stand on
the same keys:

- `Claim.claim_id` is CLM01 (the patient control number). Payers echo it in the 835 CLP01,
  the 277CA TRN02/REF*D9... and clearinghouses in their reports. Keep it unique per claim
  submission (at most 20 characters).
- `ServiceLine.line_item_control_number` is REF*6R in loop 2400; the 835 echoes it in
  REF*6R of loop 2110, which is how a payment finds its line.
- `ControlNumbers` (ISA13, GS06, ST02) are chosen and persisted by the caller: the 999 and
  TA1 answer by them.

Money is integer cents. Dates are `datetime.date`; the interchange's creation time is a
timezone-aware `datetime` (written in the time zone it carries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

EntityType = Literal["1", "2"]
"""NM102: "1" a person, "2" a non-person entity (organisation)."""

PayerResponsibility = Literal["P", "S", "T", "A", "B", "C", "D", "E", "F", "G", "H", "U"]
"""SBR01: primary, secondary, tertiary (A-H: payer 4 to 11, U unknown)."""

FrequencyCode = Literal["1", "7", "8"]
"""CLM05-3: 1 original, 7 replacement (corrected claim), 8 void."""


@dataclass(frozen=True, slots=True)
class Separators:
    """Delimiters of the interchange, written into ISA (ISA11, ISA16) and used throughout.

    `line_ending` is written after every segment terminator ("" for one long line,
    "\\n" or "\\r\\n" for files people read). None of the characters may occur in the data.
    """

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"
    line_ending: str = "\n"


@dataclass(frozen=True, slots=True)
class InterchangeSettings:
    """Who sends to whom (ISA/GS), per clearinghouse connection.

    `sender_id`/`receiver_id` are padded to 15 characters in ISA06/ISA08; the GS02/GS03
    application codes default to the same ids when left empty.
    """

    sender_id: str
    receiver_id: str
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    usage_indicator: Literal["P", "T"] = "P"
    """ISA15: P production, T test."""
    application_sender_code: str = ""
    application_receiver_code: str = ""
    authorization_qualifier: str = "00"
    authorization_information: str = ""
    security_qualifier: str = "00"
    security_information: str = ""
    acknowledgment_requested: bool = False
    """ISA14: ask for a TA1 interchange acknowledgement."""
    separators: Separators = field(default_factory=Separators)


@dataclass(frozen=True, slots=True)
class ControlNumbers:
    """ISA13 and GS06, chosen and persisted by the caller (unique per sender, never reused).

    `interchange` is 1..999999999 (written zero-padded to 9 digits); `group` 1..999999999.
    Each `Transaction837` carries its own ST02.
    """

    interchange: int
    group: int


@dataclass(frozen=True, slots=True)
class Address:
    """N3/N4. `state` is the 2-letter code; `postal_code` 5 or 9 digits (no dash) in the US.

    `country` is an ISO 3166 alpha-2 code, only for addresses outside the US.
    """

    line1: str
    city: str
    state: str
    postal_code: str
    line2: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class Submitter:
    """Loop 1000A: who built the file (the practice or its billing service).

    `submitter_id` is the id the receiver (clearinghouse) gave it (NM109, qualifier 46).
    At least one of `phone`/`email` is needed for PER.
    """

    name: str
    submitter_id: str
    contact_name: str
    phone: str = ""
    email: str = ""
    entity_type: EntityType = "2"
    first_name: str = ""


@dataclass(frozen=True, slots=True)
class Receiver:
    """Loop 1000B: the clearinghouse or payer receiving the file (NM109, qualifier 46)."""

    name: str
    receiver_id: str


@dataclass(frozen=True, slots=True)
class BillingProvider:
    """Loop 2000A/2010AA: who bills (usually the group at a location).

    `name` is the organisation's name, or the last name when `entity_type` is "1" (a solo
    provider billing as a person). `address` must be a street address (no PO box).
    `tax_id` is the EIN (9 digits, no dash) with `tax_id_qualifier` "EI", or an SSN with "SY".
    """

    name: str
    npi: str
    tax_id: str
    taxonomy_code: str
    address: Address
    entity_type: EntityType = "2"
    first_name: str = ""
    tax_id_qualifier: Literal["EI", "SY"] = "EI"
    contact_name: str = ""
    contact_phone: str = ""


@dataclass(frozen=True, slots=True)
class PayToAddress:
    """Loop 2010AB: where payment goes when it differs from the billing provider's address."""

    address: Address


@dataclass(frozen=True, slots=True)
class Provider:
    """A rendering (2310B, NM1*82) or referring (2310A, NM1*DN) provider.

    `taxonomy_code` is written (PRV*PE) for the rendering provider only.
    """

    last_name: str
    npi: str
    first_name: str = ""
    middle_name: str = ""
    suffix: str = ""
    entity_type: EntityType = "1"
    taxonomy_code: str = ""


@dataclass(frozen=True, slots=True)
class Payer:
    """Loop 2010BB: the destination payer. `payer_id` is its EDI id at the clearinghouse (PI)."""

    name: str
    payer_id: str
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Loop 2000B/2010BA: the insured person for the payer this claim goes to.

    When the patient is the subscriber, leave `Claim.patient` empty: SBR02 becomes "18"
    and the subscriber's sex, birth date and address are the patient's.
    `payer_responsibility` is SBR01 (P/S/T...): this payer's place in the coverage order.
    `claim_filing_indicator` is SBR09 (e.g. "CI" commercial, "MB" Medicare B, "MC" Medicaid,
    "BL" Blue Cross, "HM" HMO, "16" Medicare Advantage HMO).
    """

    member_id: str
    last_name: str
    first_name: str
    sex: Literal["M", "F", "U"]
    birth_date: date
    address: Address
    payer_responsibility: PayerResponsibility = "P"
    claim_filing_indicator: str = "CI"
    group_number: str = ""
    group_name: str = ""
    middle_name: str = ""
    suffix: str = ""
    insurance_type_code: str = ""
    """SBR05: only when Medicare is secondary (e.g. "12" working aged, "47" other liability)."""


@dataclass(frozen=True, slots=True)
class ServiceFacility:
    """Loop 2310C: where the service was rendered, when not the billing provider's address
    (e.g. another location of the group). `npi` only when the facility has its own."""

    name: str
    address: Address
    npi: str = ""


@dataclass(frozen=True, slots=True)
class Patient:
    """Loop 2000C/2010CA: the patient when not the subscriber (a dependant).

    `relationship_code` (PAT01) is the patient's relationship to the subscriber: "01"
    spouse, "19" child, "20" employee, "21" unknown, "39" organ donor, "40" cadaver donor,
    "53" life partner, "G8" other relationship.
    """

    relationship_code: str
    last_name: str
    first_name: str
    sex: Literal["M", "F", "U"]
    birth_date: date
    address: Address
    middle_name: str = ""
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class ClaimAdjustment:
    """One CAS adjustment by another payer: group code (CO, PR, OA, PI, CR), CARC reason
    code, amount in cents and optional quantity."""

    group_code: str
    reason_code: str
    amount_cents: int
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OtherSubscriber:
    """Loop 2330A: the subscriber of the other coverage (member id at that payer)."""

    member_id: str
    last_name: str
    first_name: str = ""
    middle_name: str = ""
    suffix: str = ""
    address: Address | None = None
    entity_type: EntityType = "1"


@dataclass(frozen=True, slots=True)
class OtherPayer:
    """Loop 2330B: the other payer (its EDI id goes into NM109 with qualifier PI)."""

    name: str
    payer_id: str
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class OtherCoverage:
    """Loop 2320 (with 2330A/2330B): another payer's coverage on this claim.

    Used on a secondary/tertiary claim to describe the primary payer (and its payment),
    or on a primary claim to declare a secondary coverage.
    `payer_responsibility` is the other payer's SBR01; `relationship_code` (SBR02) is the
    patient's relationship to the other subscriber ("18" self, "01" spouse, "19" child,
    "20" employee, "21" unknown, "39", "40", "53", "G8").
    `paid_cents` (AMT*D) is what that payer paid when it has adjudicated; `adjudication_date`
    (DTP*573 in 2330B) the date of its remittance; `adjustments` its claim-level CAS.
    """

    payer_responsibility: PayerResponsibility
    relationship_code: str
    subscriber: OtherSubscriber
    payer: OtherPayer
    claim_filing_indicator: str = "CI"
    group_number: str = ""
    group_name: str = ""
    paid_cents: int | None = None
    remaining_patient_liability_cents: int | None = None
    adjustments: tuple[ClaimAdjustment, ...] = ()
    adjudication_date: date | None = None
    benefits_assigned: bool = True
    release_of_information: Literal["I", "Y"] = "Y"



@dataclass(frozen=True, slots=True)
class LineAdjudication:
    """Loop 2430: another payer's adjudication of one service line (secondary claims).

    `payer_id` must equal the `OtherPayer.payer_id` of one of the claim's other coverages.
    """

    payer_id: str
    paid_cents: int
    procedure_code: str
    units: Decimal
    adjudication_date: date
    modifiers: tuple[str, ...] = ()
    adjustments: tuple[ClaimAdjustment, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """Loop 2400: one procedure (SV1) on one date of service.

    `procedure_code` is a CPT/HCPCS code; `modifiers` up to 4. `units` is the quantity
    (service units, "UN"; anesthesia minutes with `unit_basis` "MJ").
    `diagnosis_pointers` are 1-based positions in `Claim.diagnoses` (1..4 pointers, each
    1..12). `line_item_control_number` (REF*6R) is echoed back by the 835 for this line:
    make it unique within the claim (at most 50 characters), e.g. the charge line's id.
    `place_of_service` only when it differs from the claim's.
    """

    procedure_code: str
    charge_cents: int
    units: Decimal
    diagnosis_pointers: tuple[int, ...]
    service_date: date
    line_item_control_number: str
    modifiers: tuple[str, ...] = ()
    unit_basis: Literal["UN", "MJ"] = "UN"
    service_date_end: date | None = None
    place_of_service: str = ""
    rendering_provider: Provider | None = None
    adjudications: tuple[LineAdjudication, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """Loop 2300 and everything it hangs from: one claim to one payer.

    The writer groups claims into the HL hierarchy itself: claims with the same billing
    provider (and pay-to address) share a 2000A; with the same subscriber and payer, a
    2000B; a dependant gets a 2000C under its subscriber.

    - `claim_id`: CLM01, the patient control number (at most 20 characters), echoed by the
      277CA and 835: the key for matching acknowledgements and payments.
    - `total_charge_cents`: CLM02; must equal the sum of the lines' `charge_cents`.
    - `place_of_service`: CLM05-1 (e.g. "11" office, "02" telehealth, "22" outpatient).
    - `frequency_code`: CLM05-3; "7" (replacement) and "8" (void) require
      `payer_claim_control_number` (REF*F8, the payer's claim number from the 835/277CA).
    - `diagnoses`: ICD-10-CM codes without the dot, principal first (ABK, then ABF), 1..12.
    - `prior_authorization`: REF*G1. `referring_provider`: 2310A. `rendering_provider`:
      2310B, only when it differs from the billing provider. `service_facility`: 2310C, only
      when the service was not rendered at the billing provider's address.
    - `other_coverages`: 2320/2330 loops (secondary coverage, prior payer's adjudication).
    """

    claim_id: str
    total_charge_cents: int
    place_of_service: str
    billing_provider: BillingProvider
    subscriber: Subscriber
    payer: Payer
    diagnoses: tuple[str, ...]
    lines: tuple[ServiceLine, ...]
    patient: Patient | None = None
    pay_to: PayToAddress | None = None
    frequency_code: FrequencyCode = "1"
    payer_claim_control_number: str = ""
    prior_authorization: str = ""
    referring_provider: Provider | None = None
    rendering_provider: Provider | None = None
    service_facility: ServiceFacility | None = None
    other_coverages: tuple[OtherCoverage, ...] = ()
    provider_signature_on_file: bool = True
    """CLM06."""
    assignment_code: Literal["A", "B", "C"] = "A"
    """CLM07: provider accepts assignment (A), clinical lab only (B), not assigned (C)."""
    benefits_assigned: bool = True
    """CLM08: the insured authorised payment to the provider."""
    release_of_information: Literal["I", "Y"] = "Y"
    """CLM09: Y signed statement on file, I informed consent only (no signature)."""
    patient_paid_cents: int | None = None
    """AMT*F5: what the patient has paid towards this claim."""


@dataclass(frozen=True, slots=True)
class Transaction837:
    """One ST/SE transaction set (one BHT): a batch of claims for one receiver.

    `control_number` is ST02 (4..9 characters, unique within the group, persisted by the
    caller; the 999 answers by it). `reference` is BHT03 (the originator's batch id).
    `created` gives BHT04/BHT05.
    """

    control_number: str
    reference: str
    created: datetime
    submitter: Submitter
    receiver: Receiver
    claims: tuple[Claim, ...]


@dataclass(frozen=True, slots=True)
class Interchange837:
    """One ISA/IEA interchange with one GS/GE functional group of 837P transaction sets.

    `created` gives ISA09/ISA10 and GS04/GS05.
    """

    settings: InterchangeSettings
    control: ControlNumbers
    created: datetime
    transactions: tuple[Transaction837, ...]
