"""Sample 837P inputs for the formats.x12 tests and the benchmark (one place, many shapes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from praxis.formats.x12 import (
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

CREATED = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
DOS = date(2026, 11, 30)

BILLING = BillingProvider(
    name="RIVERSIDE FAMILY PRACTICE", npi="1234567893", tax_id="123456789", taxonomy_code="207Q00000X",
    address=Address(line1="100 MAIN ST", line2="SUITE 2", city="SPRINGFIELD", state="IL", postal_code="627011234"),
    contact_name="BILLING OFFICE", contact_phone="2175550100",
)
PAY_TO = PayToAddress(Address(line1="PO BOX 4400", city="SPRINGFIELD", state="IL", postal_code="627050440"))
ACME = Payer(name="ACME HEALTH", payer_id="60054",
             address=Address(line1="1 INSURANCE WAY", city="HARTFORD", state="CT", postal_code="06156"))
SECOND = Payer(name="BLUE PLAN", payer_id="00621")
SUBSCRIBER = Subscriber(
    member_id="W123456789", last_name="DOE", first_name="JANE", middle_name="Q", sex="F",
    birth_date=date(1980, 2, 14), group_number="GRP100", claim_filing_indicator="CI",
    address=Address(line1="12 ELM ST", city="SPRINGFIELD", state="IL", postal_code="62704"),
)
CHILD = Patient(relationship_code="19", last_name="DOE", first_name="TIMMY", sex="M", birth_date=date(2015, 6, 1),
                address=Address(line1="12 ELM ST", city="SPRINGFIELD", state="IL", postal_code="62704"))
RENDERING = Provider(last_name="SMITH", first_name="ANNA", npi="1992999998", taxonomy_code="207Q00000X")
REFERRING = Provider(last_name="JONES", first_name="MARK", middle_name="T", npi="1497758544")


def line(n: int, code: str = "99213", cents: int = 12500, pointers: tuple[int, ...] = (1,),
         modifiers: tuple[str, ...] = (), units: Decimal = Decimal(1)) -> ServiceLine:
    return ServiceLine(procedure_code=code, charge_cents=cents, units=units, diagnosis_pointers=pointers,
                       service_date=DOS, line_item_control_number=f"L{n:04d}", modifiers=modifiers)


def claim(claim_id: str = "PX000101", **changes: object) -> Claim:
    """A clean claim for the subscriber herself; `changes` replaces any field."""
    base = Claim(claim_id=claim_id, total_charge_cents=12500, place_of_service="11", billing_provider=BILLING,
                 subscriber=SUBSCRIBER, payer=ACME, diagnoses=("J069",), lines=(line(1),))
    return replace(base, **changes) if changes else base


def dependant_claim() -> Claim:
    return claim("PX000102", patient=CHILD)


def referring_claim() -> Claim:
    return claim("PX000103", referring_provider=REFERRING, rendering_provider=RENDERING, prior_authorization="AUTH77")


TWELVE = ("E119", "I10", "E785", "J449", "M5416", "F329", "K219", "N183", "E6601", "G4733", "Z794", "R0602")


def twelve_diagnoses_claim() -> Claim:
    lines = (line(1, "99214", 15000, (1, 2, 3, 4)), line(2, "93000", 5000, (5, 6, 7, 8)),
             line(3, "36415", 1500, (9, 10, 11, 12)))
    return claim("PX000104", diagnoses=TWELVE, lines=lines, total_charge_cents=21500)


def modifiers_claim() -> Claim:
    lines = (line(1, "99214", 15000, (1,), ("25",)), line(2, "20610", 22000, (2,), ("RT", "59", "XS", "76")),
             line(3, "J1030", 1800, (2,), (), Decimal(2)))
    return claim("PX000105", diagnoses=("M1711", "M1712"), lines=lines, total_charge_cents=38800)


def secondary_claim() -> Claim:
    """To the secondary payer, after the primary (ACME) paid: 2320/2330A/2330B and 2430."""
    primary = OtherCoverage(
        payer_responsibility="P", relationship_code="18", claim_filing_indicator="CI", group_number="GRP100",
        subscriber=OtherSubscriber(member_id="W123456789", last_name="DOE", first_name="JANE",
                                   address=SUBSCRIBER.address),
        payer=OtherPayer(name="ACME HEALTH", payer_id="60054"),
        paid_cents=8000, remaining_patient_liability_cents=2000,
        adjustments=(ClaimAdjustment("CO", "45", 2500), ClaimAdjustment("PR", "2", 2000)),
    )
    adjudication = LineAdjudication(payer_id="60054", paid_cents=8000, procedure_code="99213", units=Decimal(1),
                                    adjudication_date=date(2026, 12, 3),
                                    adjustments=(ClaimAdjustment("CO", "45", 2500), ClaimAdjustment("PR", "2", 2000)))
    lines = (replace(line(1), adjudications=(adjudication,)),)
    sub = replace(SUBSCRIBER, member_id="BP998877", payer_responsibility="S", claim_filing_indicator="BL")
    return claim("PX000106", subscriber=sub, payer=SECOND, other_coverages=(primary,), lines=lines)


def facility_claim() -> Claim:
    """Seen at another location of the group: 2310C service facility."""
    facility = ServiceFacility(name="RIVERSIDE NORTH CLINIC", npi="1588667638",
                               address=Address(line1="900 NORTH RD", city="SPRINGFIELD", state="IL",
                                               postal_code="62702"))
    return claim("PX000108", service_facility=facility)


def medicare_secondary_claim() -> Claim:
    """Medicare as the secondary payer: SBR05 insurance type code."""
    sub = replace(SUBSCRIBER, payer_responsibility="S", claim_filing_indicator="MB", insurance_type_code="12",
                  member_id="1EG4TE5MK73", group_number="")
    return replace(secondary_claim(), claim_id="PX000109", subscriber=sub,
                   payer=Payer(name="MEDICARE PART B", payer_id="00952"))


def corrected_claim() -> Claim:
    return claim("PX000107", frequency_code="7", payer_claim_control_number="2026334000123", pay_to=PAY_TO)


ALL_SHAPES = {
    "subscriber": claim,
    "dependant": dependant_claim,
    "referring": referring_claim,
    "twelve_diagnoses": twelve_diagnoses_claim,
    "modifiers": modifiers_claim,
    "secondary": secondary_claim,
    "corrected": corrected_claim,
    "service_facility": facility_claim,
    "medicare_secondary": medicare_secondary_claim,
}


def interchange(*claims: Claim, separators: Separators | None = None, control: int = 1001,
                per_transaction: int = 0) -> Interchange837:
    """One interchange, one group; all claims in one ST unless `per_transaction` splits them."""
    settings = InterchangeSettings(sender_id="PRAXIS01", receiver_id="CLEARHOUSE", usage_indicator="T",
                                   separators=separators or Separators())
    chunks = [claims] if not per_transaction else [claims[i:i + per_transaction]
                                                   for i in range(0, len(claims), per_transaction)]
    txs = tuple(Transaction837(control_number=f"{n:04d}", reference=f"B{control}-{n}", created=CREATED,
                               submitter=Submitter(name="RIVERSIDE FAMILY PRACTICE", submitter_id="PRAXIS01",
                                                   contact_name="BILLING OFFICE", phone="2175550100"),
                               receiver=Receiver(name="CLEARHOUSE INC", receiver_id="CLEARHOUSE"),
                               claims=tuple(chunk)) for n, chunk in enumerate(chunks, 1))
    return Interchange837(settings=settings, control=ControlNumbers(interchange=control, group=control),
                          created=CREATED, transactions=txs)
