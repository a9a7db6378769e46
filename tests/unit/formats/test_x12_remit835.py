"""The typed 835 reader: payments by CLP01 and REF*6R, cents, the guide's balancing rules."""

from __future__ import annotations

from datetime import date

import pytest

from praxis.formats.x12.remit835 import Read835, read_835
from tests.unit.formats.corpus import x12_dir, x12_files


def _read(name: str) -> Read835:
    return read_835((x12_dir() / "835" / name).read_bytes())


@pytest.mark.parametrize("rel", x12_files("835"))
def test_every_835_is_read(rel: str) -> None:
    result = read_835((x12_dir() / rel).read_bytes())
    assert len(result.remittances) == 1
    assert all(d.code != "reader.internal" for d in result.defects)


def test_united_healthcare_field_by_field() -> None:
    result = _read("ks_united_healthcare_legacy_sample.835")
    assert result.defects == []
    (rm,) = result.remittances
    assert (rm.control_number, rm.total_paid_cents, rm.credit_debit, rm.payment_method) == ("000000064", 34999, "C",
                                                                                            "ACH")
    assert (rm.payment_date, rm.trace_number, rm.payer_name, rm.payer_id) == (
        date(2021, 2, 4), "1234567890", "UNITED HEALTHCARE INSURANCE COMPANY", "87726")
    assert (rm.payee_name, rm.payee_id_qualifier, rm.payee_id) == ("KLAUS MEDICAL CENTER", "XX", "1922164458")
    first, second = rm.claims
    assert (first.claim_id, first.status_code, first.charge_cents, first.paid_cents) == (
        "001-18573-358", "1", 34128, 8892)
    assert (first.patient_responsibility_cents, first.payer_claim_control_number) == (10526, "ATL2819897200")
    assert first.status_text == "Processed as primary"
    assert [(s.procedure_code, s.charge_cents, s.paid_cents, s.line_item_control_number) for s in first.services] == [
        ("B4152", 15642, 8892, "800941258001"), ("B4152", 18486, 0, "800941258002")]
    assert first.services[0].service_date == date(2020, 12, 21)
    assert second.claim_id == "001-18604-358" and len(second.services) == 3
    assert sum(c.paid_cents for c in rm.claims) == rm.total_paid_cents


def test_managed_care_claim_level_adjustments() -> None:
    (rm,) = _read("lfh_managed-care.835").remittances
    first = rm.claims[0]
    assert [(a.group_code, a.reason_code, a.amount_cents) for a in first.adjustments] == [("CO", "A2", 5000)]
    assert first.services[0].paid_cents == 50000


def test_provider_level_adjustment_balances_the_payment() -> None:
    result = _read("lfh_medicare-part-a.835")
    assert result.defects == []
    (rm,) = result.remittances
    (plb,) = rm.provider_adjustments
    assert (plb.provider_id, plb.fiscal_period_end, plb.reason_code, plb.reference, plb.amount_cents) == (
        "6543210903", date(2002, 12, 31), "CV", "CP", -127)
    assert rm.total_paid_cents == sum(c.paid_cents for c in rm.claims) - plb.amount_cents


def test_denied_claim() -> None:
    (rm,) = _read("pyx12_835_mult_loops.835").remittances
    (claim,) = rm.claims
    assert claim.denied and claim.paid_cents == 0 and claim.charge_cents == 91539
    assert [s.remark_codes for s in claim.services] == [("N14",), ("N14",), ("N14",)]
    assert [a.reason_code for s in claim.services for a in s.adjustments] == ["16", "A7", "A7"]


def test_a_service_that_does_not_balance_is_a_defect() -> None:
    result = _read("lfh_tertiary-payment.835")
    (defect,) = result.defects
    assert (defect.code, defect.segment_id, defect.segment) == ("835.balance", "SVC", 20)


def test_an_altered_payment_total_is_a_defect() -> None:
    text = (x12_dir() / "835" / "ks_emedny_sample.835").read_text().replace("BPR*I*45.75*", "BPR*I*45.76*")
    result = read_835(text)
    assert [d.code for d in result.defects] == ["835.balance"]
    assert "BPR02 45.76" in result.defects[0].message
