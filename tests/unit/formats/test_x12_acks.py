"""999, 277CA and TA1 readers on the shared corpus: accepted/rejected, reasons with texts, and
the identifiers (control numbers, CLM01) that find what they answer."""

from __future__ import annotations

from datetime import date

import pytest

from praxis.formats.x12.acks import read_277ca, read_999, read_acknowledgements, read_ta1
from tests.unit.formats.corpus import x12_dir, x12_files


def _bytes(rel: str) -> bytes:
    return (x12_dir() / rel).read_bytes()


@pytest.mark.parametrize("rel", x12_files("999", "277ca", "ta1"))
def test_every_acknowledgement_file_is_read_without_crashing(rel: str) -> None:
    acks = read_acknowledgements(_bytes(rel))
    assert acks.interchange_acks or acks.functional_acks or acks.claim_acks
    assert all(d.code != "reader.internal" for d in acks.defects)


def test_999_accepted() -> None:
    acks = read_999(_bytes("999/herophilus_999_accepted.999"))
    assert acks.defects == []
    (fa,) = acks.functional_acks
    assert (fa.kind, fa.control_number, fa.functional_id, fa.group_control_number, fa.version) == (
        "999", "4001", "HC", "28", "005010X223A2")
    assert fa.accepted and (fa.included, fa.received, fa.accepted_count) == (1, 1, 1)
    (tx,) = fa.transactions
    assert (tx.transaction_id, tx.control_number, tx.status, tx.accepted, tx.reasons) == ("837", "0028", "A", True, ())


def test_999_rejected_names_the_segment_and_the_reason() -> None:
    acks = read_999(_bytes("999/herophilus_999_rejected.999"))
    (fa,) = acks.functional_acks
    assert fa.status == "R" and not fa.accepted and fa.accepted_count == 0
    (tx,) = fa.transactions
    assert tx.control_number == "0028" and tx.status == "R" and not tx.accepted
    segment, trailer = tx.reasons
    assert (segment.segment_id, segment.segment_position, segment.code, segment.text) == (
        "NM", 17, "1", "Unrecognized segment ID")
    assert (trailer.code, trailer.text) == ("5", "One or more segments in error")


def test_999_generated_by_pyx12_with_its_ta1_after_ge() -> None:
    acks = read_acknowledgements(_bytes("999/generated_by_pyx12/ack_for_no_NM1_85_rejected.999_with_TA1.x12"))
    assert acks.defects == []
    (ta1,) = acks.interchange_acks
    assert (ta1.control_number, ta1.status, ta1.note_code, ta1.accepted) == ("000000907", "A", "000", True)
    (fa,) = acks.functional_acks
    (tx,) = fa.transactions
    assert (tx.control_number, tx.version, tx.status) == ("0021", "005010X222A1", "R")
    assert [(r.segment_id, r.segment_position, r.code) for r in tx.reasons] == [
        ("N3", 8, "1"), ("N4", 9, "1"), ("REF", 10, "1"), ("NM1", 11, "3"), ("NM1", 14, "3"), ("", None, "5")]
    assert tx.reasons[3].text == "Required segment missing"


def test_999_with_several_transaction_sets_and_groups() -> None:
    acks = read_999(_bytes("999/pyx12_834_lui_id.999"))
    assert [fa.control_number for fa in acks.functional_acks] == ["0001", "0002", "0003", "0004"]
    assert all(fa.accepted and fa.transactions[0].transaction_id == "834" for fa in acks.functional_acks)


def test_999_whose_envelope_is_wrong_still_reads_and_says_so() -> None:
    acks = read_999(_bytes("999/ims_999_accepted.999"))
    assert [d.code for d in acks.defects] == ["iea.control_number"]
    assert acks.functional_acks[0].transactions[0].accepted


def test_997_element_errors_and_group_reasons() -> None:
    acks = read_ta1(_bytes("ta1/pyx12_997_with_TA1_rejected_018.4010.x12"))
    (ta1,) = acks.interchange_acks
    assert (ta1.control_number, ta1.date, ta1.time, ta1.status, ta1.accepted) == (
        "000484950", "040820", "1133", "R", False)
    assert (ta1.note_code, ta1.note_text) == ("018", "Invalid interchange control number value")
    (fa,) = acks.functional_acks
    assert fa.kind == "997" and fa.status == "R" and (fa.included, fa.received, fa.accepted_count) == (2, 2, 1)
    assert [r.code for r in fa.reasons] == ["4"]
    first, second = fa.transactions
    assert (first.control_number, first.accepted, [r.code for r in first.reasons]) == ("300207436", False, ["4"])
    assert first.reasons[0].text == "Number of included segments does not match actual count"
    assert (second.control_number, second.accepted) == ("300207437", True)


@pytest.mark.parametrize(("rel", "control", "status", "note"), [
    ("ta1/pyx12_997_with_TA1_accepted.4010.x12", "000003447", "A", "000"),
    ("ta1/pyx12_997_with_TA1_rejected_023.4010.x12", "000010121", "R", "023"),
])
def test_ta1_files(rel: str, control: str, status: str, note: str) -> None:
    (ta1,) = read_ta1(_bytes(rel)).interchange_acks
    assert (ta1.control_number, ta1.status, ta1.note_code) == (control, status, note)
    assert ta1.note_text and ta1.status_text


def test_277ca_accepted() -> None:
    acks = read_277ca(_bytes("277ca/herophilus_277CA_accepted.277"))
    assert acks.defects == []
    (ca,) = acks.claim_acks
    assert (ca.control_number, ca.reference, ca.payer_name) == ("000014420", "000000674", "NYSDOH")
    (batch,) = ca.batches
    assert (batch.reference, batch.accepted_count, batch.accepted_cents) == ("000000674", 1, 12500)
    assert batch.statuses[0].codes[0].category == "A1"
    (claim,) = ca.claims
    assert (claim.claim_id, claim.payer_claim_control_number, claim.member_id) == (
        "5781", "1107000000014420", "LL99999X")
    assert (claim.patient_last_name, claim.billing_provider_npi) == ("TPATIENT", "1234567890")
    assert claim.accepted
    (status,) = claim.statuses
    assert (status.codes[0].category, status.codes[0].code, status.charge_cents, status.effective) == (
        "A2", "20", 12500, date(2011, 3, 11))
    assert status.codes[0].code_text == "Accepted for processing"


def test_277ca_rejected_gives_the_reason_and_the_entity() -> None:
    acks = read_277ca(_bytes("277ca/ims_277CA_rejected.X214.277"))
    (ca,) = acks.claim_acks
    (claim,) = ca.claims
    assert claim.claim_id == "3920394930203" and not claim.accepted
    assert claim.payer_claim_control_number == "1107000000001120"
    assert claim.service_date == date(2009, 3, 11)
    (reason,) = claim.reasons
    assert (reason.category, reason.code, reason.entity) == ("A7", "562", "85")
    assert reason.category_text == "Acknowledgement/Rejected for invalid information"
    assert reason.code_text == "Entity's National Provider Identifier (NPI)"
    assert reason.entity_text == "Billing provider"
    assert claim.position == 21


def test_a_999_without_ik5_is_a_defect_not_a_crash() -> None:
    text = _bytes("999/herophilus_999_accepted.999").decode().replace("IK5*A~", "").replace("SE*6*", "SE*5*")
    acks = read_999(text)
    assert "ack.missing" in [d.code for d in acks.defects]
    assert acks.functional_acks[0].transactions[0].status == ""
