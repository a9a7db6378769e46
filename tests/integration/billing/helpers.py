"""Builders for billing tests: a location with a billing identity, a provider with NPI and
taxonomy, payers with EDI ids, a fee schedule, patients with coverages, and encounters."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from praxis.billing import charges, reference
from praxis.billing.codes import npi_with_check_digit
from praxis.billing.schemas import (
    BillingProfileIn,
    EncounterIn,
    FeeItemIn,
    FeeScheduleIn,
    LineIn,
    PayerEdiIdIn,
)
from praxis.patients import coverage, service
from praxis.patients.schemas import CoverageIn, PatientCreate, PayerIn
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.scheduling import setup


def fresh_npi() -> str:
    return npi_with_check_digit("1" + "".join(str(secrets.randbelow(10)) for _ in range(8)))


@dataclass
class BillingWorld:
    org: Any
    ctx: Context
    location_id: uuid.UUID
    provider_id: uuid.UUID
    payer_id: uuid.UUID
    payer_code: str
    payer2_id: uuid.UUID
    payer2_code: str

    def patient(self, *, sex: str = "F", secondary: bool = False, dependant: bool = False,
                address: bool = True) -> tuple[uuid.UUID, uuid.UUID]:
        """A patient with a primary coverage (and a secondary); returns (patient id, primary coverage id)."""
        first, last = "Jane", f"Doe{secrets.token_hex(3)}"
        p = service.register_patient(self.ctx, PatientCreate(
            first_name=first, last_name=last, dob=date(1985, 3, 4), sex=sex,  # type: ignore[arg-type]
            address_line1="12 Main St" if address else "", city="New York" if address else "",
            state="NY" if address else "", postal_code="10001" if address else "",
            preferred_location_id=self.location_id, confirm_duplicate=True), location_id=self.location_id)
        extra: dict[str, Any] = {}
        if dependant:
            extra = dict(relationship="19", subscriber_first_name="John", subscriber_last_name=last,
                         subscriber_dob=date(1960, 1, 2), subscriber_sex="M",
                         subscriber_address_line1="12 Main St", subscriber_city="New York", subscriber_state="NY",
                         subscriber_postal_code="10001")
        cov = coverage.add_coverage(self.ctx, p.id, CoverageIn(
            payer_id=self.payer_id, member_id=f"M{secrets.token_hex(4).upper()}", group_number="GRP1",
            effective_from=date(2020, 1, 1), **extra))
        if secondary:
            coverage.add_coverage(self.ctx, p.id, CoverageIn(
                payer_id=self.payer2_id, member_id=f"S{secrets.token_hex(4).upper()}", priority=2,
                effective_from=date(2020, 1, 1)))
        return p.id, cov.id

    def encounter(self, patient_id: uuid.UUID, *, diagnoses: list[str] | None = None,
                  lines: list[LineIn] | None = None, days_ago: int = 3, **extra: Any) -> Any:
        return charges.create_encounter(self.ctx, EncounterIn(
            patient_id=patient_id, location_id=self.location_id,
            date_of_service=now().date() - timedelta(days=days_ago), rendering_provider_id=self.provider_id,
            diagnoses=diagnoses if diagnoses is not None else ["E11.9", "I10"],
            lines=lines if lines is not None else [LineIn(code="99213", dx_pointers=[1, 2]),
                                                   LineIn(code="36415", dx_pointers=[1])], **extra))


def make_billing_world(org: Any) -> BillingWorld:
    ctx = system_context(org.id, "test")
    loc = org.loc_a.id
    prov = setup.create_provider(ctx, first_name="Ada", last_name=f"Lovelace{secrets.token_hex(2)}",
                                 credentials="MD", npi=fresh_npi(), location_ids=[loc, org.loc_b.id])
    reference.set_provider_taxonomy(ctx, prov.id, "207Q00000X")
    reference.set_billing_profile(ctx, loc, BillingProfileIn(
        name="Alpha Clinics Midtown", npi=fresh_npi(), tax_id="12-3456789", taxonomy_code="261QP2300X",
        address_line1="100 Broadway", city="New York", state="NY", postal_code="100051234", phone="2125550100"))
    code1, code2 = f"P{secrets.token_hex(3).upper()}", f"S{secrets.token_hex(3).upper()}"
    p1 = coverage.create_payer(ctx, PayerIn(payer_code=code1, name="Acme Health", address_line1="PO Box 1",
                                            city="Hartford", state="CT", postal_code="06101"))
    p2 = coverage.create_payer(ctx, PayerIn(payer_code=code2, name="Second Mutual", claim_filing_indicator="CI"))
    reference.set_payer_edi_id(ctx, p1.id, PayerEdiIdIn(transaction="claims", edi_id="60054"))
    reference.create_fee_schedule(ctx, FeeScheduleIn(
        name="Standard", effective_from=date(2020, 1, 1),
        items=[FeeItemIn(code="99213", charge_cents=15000, allowed_cents=9500),
               FeeItemIn(code="99214", charge_cents=22000, allowed_cents=14000),
               FeeItemIn(code="36415", charge_cents=2500, allowed_cents=900),
               FeeItemIn(code="20610", charge_cents=30000, allowed_cents=18000)]))
    return BillingWorld(org, ctx, loc, prov.id, p1.id, code1, p2.id, code2)
