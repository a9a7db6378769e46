"""The X12 reader on the shared corpus: every 837P and 835 read and spot-checked against the
file; the invalid files and truncated files reported with defects; the envelope checks."""

from __future__ import annotations

import pytest

from praxis.formats.x12.read837 import read_837p
from praxis.formats.x12.reader import ReadResult, read_interchange
from praxis.formats.x12.write837 import write_837p
from tests.unit.formats import claims as c
from tests.unit.formats.corpus import x12_dir, x12_files


def _read(rel: str) -> ReadResult:
    return read_interchange((x12_dir() / rel).read_bytes())


def _codes(result: ReadResult) -> list[str]:
    return [d.code for d in result.defects]


# -- 837P --------------------------------------------------------------------------------------

CLEAN_837P = [f for f in x12_files("837p") if f.startswith(("837p/derived_X222A1/", "837p/lfh_")) and "cob" not in f]


@pytest.mark.parametrize("rel", CLEAN_837P)
def test_linuxforhealth_837p_files_read_without_defects(rel: str) -> None:
    result = _read(rel)
    assert result.defects == []
    (tx,) = result.transactions("837")
    assert [loop.id for loop in tx.root.children] == ["1000A", "1000B", "2000A"]
    assert read_837p(result).defects == []


def test_837p_example1_field_by_field() -> None:
    result = _read("837p/derived_X222A1/lfh_demo.example1.X222A1-relabelled.837")
    (ic,) = result.interchanges
    assert (ic.sender_qualifier, ic.sender_id, ic.receiver_id, ic.control_number, ic.usage_indicator) == (
        "30", "000000005", "12345", "000000907", "T")
    assert result.delimiters is not None and result.delimiters.repetition == "^"
    (group,) = ic.groups
    assert (group.functional_id, group.control_number, group.version) == ("HC", "1", "005010X222A1")
    (tx,) = group.transactions
    assert (tx.id, tx.control_number, len(tx.segments)) == ("837", "0021", 40)
    (claim,) = read_837p(result).claims
    assert claim.claim_id == "26463774"
    assert claim.total_charge_cents == 10000
    assert claim.place_of_service == "11" and claim.frequency_code == "1"
    assert claim.billing_provider.npi == "1912301953" and claim.billing_provider.tax_id == "587654321"
    assert claim.billing_provider.taxonomy_code == "203BF0100Y"
    assert claim.pay_to is not None and claim.pay_to.address.line1 == "2345 OCEAN BLVD"
    assert (claim.subscriber.member_id, claim.subscriber.last_name, claim.subscriber.payer_responsibility) == (
        "JS00111223333", "SMITH", "P")
    assert claim.subscriber.group_number == "2222-SJ" and claim.subscriber.claim_filing_indicator == "CI"
    assert claim.payer.payer_id == "999996666"
    assert claim.patient is not None and claim.patient.relationship_code == "19"
    assert (claim.patient.first_name, claim.patient.sex, claim.patient.birth_date.isoformat()) == (
        "TED", "M", "1973-05-01")
    assert claim.diagnoses == ("0340", "V7389")
    assert [(line.procedure_code, line.charge_cents, line.diagnosis_pointers) for line in claim.lines] == [
        ("99213", 4000, (1,)), ("87070", 1500, (1,)), ("99214", 3500, (2,)), ("86663", 1000, (2,))]
    assert claim.lines[2].service_date.isoformat() == "2006-10-10"


def test_837p_cob_file_reads_its_other_subscriber_and_misses_its_other_payer() -> None:
    result = _read("837p/lfh_demo.cob.example3.A.X222A2.837")
    (tx,) = result.transactions("837")
    (l2320,) = tx.root.walk("2320")
    assert l2320.segments[0].elements == ["SBR", "S", "01", "", "", "", "", "", "", "12"]
    assert [child.id for child in l2320.children] == ["2330A"]
    # The sample omits 2330B (other payer name), which the guide requires.
    assert _codes(result) == ["loop.missing"] and result.defects[0].segment == 39
    assert [loop.segments[0].get(9) for loop in tx.root.walk("2310B")] == ["1999996666"]


@pytest.mark.parametrize("rel", [f for f in x12_files("837p") if f.startswith("837p/ims_")])
def test_imsweb_837p_files_are_read_with_their_guide_defects(rel: str) -> None:
    result = _read(rel)
    assert result.interchanges and all(tx.id == "837" for tx in result.transactions())
    # pyx12 finds 19-101 errors in each; we at least see the SE count that does not match.
    assert "se.count" in _codes(result)


def test_837p_multiple_groups_are_separate() -> None:
    result = _read("837p/ims_x12_multiple_gs.x12")
    (ic,) = result.interchanges
    assert len(ic.groups) >= 2
    assert sum(len(g.transactions) for g in ic.groups) == len(list(result.transactions()))


@pytest.mark.parametrize("rel", x12_files("837p/invalid"))
def test_invalid_837p_files_are_reported_with_defects(rel: str) -> None:
    result = _read(rel)
    assert result.defects, rel
    for defect in result.defects:
        assert defect.segment > 0 and defect.code and str(defect).startswith("segment ")
    assert "reader.internal" not in _codes(result)
    read_837p(result)  # mapping what it can never raises either


def test_missing_billing_provider_is_named_at_its_hl() -> None:
    result = _read("837p/invalid/derived_lfh_example1_no_NM1_85.x12")
    (defect,) = result.defects
    assert defect.code == "loop.missing" and defect.segment == 8 and "2010AA" in defect.message
    assert defect.transaction == "0021"


def test_missing_claim_is_named_at_its_patient_hl() -> None:
    result = _read("837p/invalid/derived_lfh_example1_no_CLM.x12")
    assert [(d.code, d.segment) for d in result.defects] == [("loop.missing", 21)]
    assert "2300" in result.defects[0].message


# -- 835 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("rel", "control", "paid", "trn", "claims"), [
    ("835/herophilus_835_professional_no_payment.835", "1740", "0", "10100000000", ["PATIENT ACCOUNT NUMBER"]),
    ("835/ks_emedny_sample.835", "1740", "45.75", "10100000000", ["PATIENT ACCOUNT NUMBER"] * 4),
    ("835/ks_united_healthcare_legacy_sample.835", "000000064", "349.99", "1234567890",
     ["001-18573-358", "001-18604-358"]),
    ("835/lfh_cob-contractural-adjustment.835", "0001", "34.00", "0063158ABC", ["0001000055"]),
    ("835/lfh_managed-care.835", "112233", "945.00", "7170066655", ["5554555444", "8765432112"]),
    ("835/lfh_medicare-part-a.835", "1234", "150000.00", "12345", ["666123", "777777"]),
    ("835/lfh_secondary-payment.835", "1234", "1222.00", "0012524965", ["L0004828311", "0001000053"]),
    ("835/lfh_tertiary-payment.835", "0001", "187.50", "0012524879", ["0001000054"]),
    ("835/pyx12_835_mult_loops.835", "0001", "0", "000000000", ["2005555A"]),
    ("835/ks_blue_cross_nc_sample.835", "1234", "1922.86", "02790758", ["200200964A52"]),
])
def test_835_files_field_by_field(rel: str, control: str, paid: str, trn: str, claims: list[str]) -> None:
    result = _read(rel)
    (tx,) = result.transactions("835")
    assert tx.control_number == control
    root = tx.root
    assert root.first("BPR").get(2) == paid
    assert root.first("TRN").get(2) == trn
    clps = [loop.segments[0].get(1) for loop in root.walk("2100")]
    if rel.startswith("835/ks_emedny"):
        assert clps[:2] == claims[:2]
    else:
        assert clps == claims
    assert root.child("1000A").segments[0].get(1) == "PR"
    assert root.child("1000B").segments[0].get(1) == "PE"


def test_835_line_item_control_numbers_sit_in_their_service_loops() -> None:
    result = _read("835/ks_united_healthcare_legacy_sample.835")
    (tx,) = result.transactions("835")
    first_claim = next(tx.root.walk("2100"))
    lines = [(svc.segments[0].get(1), svc.first("REF", "6R").get(2)) for svc in first_claim.walk("2110")]
    assert lines == [("HC>B4152", "800941258001"), ("HC>B4152", "800941258002")]
    assert result.delimiters is not None and result.delimiters.component == ">"


def test_835_without_isa_is_read_and_says_so() -> None:
    result = _read("835/ks_blue_cross_nc_sample.835")
    assert _codes(result)[0] == "isa.missing"
    assert "se.count" in _codes(result)  # SE01 says 33, the set has 32


def test_835_plb_returns_to_the_transaction_level() -> None:
    result = _read("835/lfh_medicare-part-a.835")
    (tx,) = result.transactions("835")
    assert tx.root.first("PLB") is not None


# -- other transaction sets: loops recognised ---------------------------------------------------

@pytest.mark.parametrize("rel", x12_files("270", "271", "276", "277", "837i"))
def test_other_transaction_sets_have_their_loops(rel: str) -> None:
    result = _read(rel)
    txs = list(result.transactions())
    assert txs
    for tx in txs:
        ids = [loop.id for loop in tx.root.children]
        assert "2000A" in ids
        assert next(tx.root.walk("2000A")).children[0].id in ("2100A", "2010AA", "2010AB")


def test_271_benefits_nest_under_the_subscriber() -> None:
    result = _read("271/herophilus_271_eligible.271")
    (tx,) = result.transactions("271")
    subscriber = next(tx.root.walk("2100C"))
    assert subscriber.segments[0].get(1) == "IL"
    assert [loop.id for loop in subscriber.children][:1] == ["2110C"]
    assert all(loop.segments[0].id == "EB" for loop in subscriber.children)


# -- envelopes, truncation --------------------------------------------------------------------

def _ours() -> str:
    return write_837p(c.interchange(c.claim(), c.dependant_claim(), per_transaction=1))


def test_our_own_file_reads_clean_and_counts_are_checked() -> None:
    text = _ours()
    assert read_interchange(text).defects == []
    assert read_interchange(text.encode()).defects == []
    broken = text.replace("\nSE*", "\nSE*9", 1).replace("GE*2*", "GE*3*").replace("IEA*1*000001001", "IEA*1*000001002")
    result = read_interchange(broken)
    assert {"se.count", "ge.count", "iea.control_number"} <= set(_codes(result))
    se = next(d for d in result.defects if d.code == "se.count")
    assert se.transaction == "0001" and se.segment_id == "SE"


def test_control_number_mismatches_are_named() -> None:
    text = _ours().replace("*0002~\nGE", "*0009~\nGE", 1)
    result = read_interchange(text)
    assert "se.control_number" in _codes(result)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_file_yields_defects(cut: int) -> None:
    text = _ours()
    result = read_interchange(text[:int(len(text) * cut)])
    assert result.defects
    assert "reader.internal" not in _codes(result)
    assert any(code.endswith(".missing") or code.startswith("isa.") for code in _codes(result))


def test_truncated_corpus_files_yield_defects_and_no_claims_from_nowhere() -> None:
    for rel in CLEAN_837P + x12_files("835"):
        data = (x12_dir() / rel).read_bytes()
        result = read_interchange(data[: len(data) * 2 // 3])
        assert result.defects, rel
        assert "reader.internal" not in _codes(result)


def test_garbage_is_not_an_interchange() -> None:
    for data in (b"", b"   \n", b"hello world", b"ISA", b"ISA*00", "ISA*😀".encode()):
        result = read_interchange(data)
        assert result.defects and result.interchanges == []
        assert "reader.internal" not in _codes(result)


def test_separators_come_from_isa() -> None:
    from praxis.formats.x12 import Separators
    seps = Separators(element="|", component=">", repetition="{", segment="'", line_ending="\r\n")
    text = write_837p(c.interchange(c.modifiers_claim(), separators=seps))
    result = read_interchange(text)
    assert result.defects == []
    assert result.delimiters is not None
    assert (result.delimiters.element, result.delimiters.component, result.delimiters.repetition,
            result.delimiters.segment) == ("|", ">", "{", "'")
    assert read_837p(result).claims == [c.modifiers_claim()]


@pytest.mark.parametrize(("name", "expected"), [
    ("ims_x12_bad_valid_code.x12", {("segment.unexpected", 9), ("loop.missing", 8)}),
    ("ims_x12_missing_elements.x12", {("element.missing", 7), ("element.missing", 31)}),
    ("ims_x12_segments_out_of_order.x12", {("segment.order", 10), ("segment.order", 12)}),
    ("ims_x12_segment_errors.x12", {("segment.order", 10), ("segment.missing", 21), ("element.invalid", 23)}),
    ("ims_x12_loop_errors3_missing_loops.x12", {("loop.missing", 8)}),
])
def test_each_imsweb_negative_is_caught_for_what_it_breaks(name: str, expected: set[tuple[str, int]]) -> None:
    """What each file changes against ims_x12_valid.x12: NM1*117 for NM1*85; NM102 and CLM05
    emptied; N4 before N3; N3 and HI removed, pointers to no diagnosis; 2010AA removed."""
    result = _read(f"837p/invalid/{name}")
    assert expected <= {(d.code, d.segment) for d in result.defects}
    missing = next((d for d in result.defects if d.code == "element.missing"), None)
    if name == "ims_x12_missing_elements.x12":
        assert missing is not None and missing.message == "NM102 is required"
