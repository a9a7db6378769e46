"""Acknowledgement readers: TA1 (interchange), 999/997 (functional group and transaction
sets), 277CA (claims). Typed results that say accepted or rejected, with reason codes and
texts, and the identifiers to find what they answer:

- TA1 -> our ISA13 (`InterchangeAck.control_number`);
- 999 -> our GS06 (`FunctionalAck.group_control_number`) and ST02
  (`TransactionAck.control_number`), with the segment positions of the errors;
- 277CA -> our BHT03 batch reference (`BatchStatus.reference`) and each claim's CLM01
  (`ClaimStatus.claim_id`), the payer's claim number and line item control numbers.

Every reader takes bytes, text or a `ReadResult` and never raises: problems come back in
`defects` next to whatever could be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from praxis.formats.x12 import codes
from praxis.formats.x12.reader import Defect, Loop, ReadResult, Segment, TransactionSet, read_interchange
from praxis.formats.x12.values import cents, d8


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code with its text, and where it points when it points somewhere.

    `segment_position` is the position in the acknowledged transaction set (ST = 1), with
    `segment_id`, `loop_id` and `element` (IK4 position) when the 999 gives them.
    """

    code: str
    text: str
    segment_id: str = ""
    segment_position: int | None = None
    loop_id: str = ""
    element: str = ""
    bad_value: str = ""


# -- TA1 -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InterchangeAck:
    """TA1: the receiver's answer to our interchange `control_number` (our ISA13)."""

    control_number: str
    date: str
    time: str
    status: str
    status_text: str
    note_code: str
    note_text: str
    position: int

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")


def _ta1(seg: Segment) -> InterchangeAck:
    return InterchangeAck(control_number=seg.get(1), date=seg.get(2), time=seg.get(3), status=seg.get(4),
                          status_text=codes.text(codes.TA1_STATUS, seg.get(4)), note_code=seg.get(5),
                          note_text=codes.text(codes.TA1_NOTE, seg.get(5)), position=seg.position)


# -- 999 / 997 -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransactionAck:
    """AK2..IK5 (AK5 in a 997): one transaction set we sent, by its ST01 and ST02."""

    transaction_id: str
    control_number: str
    version: str
    status: str
    status_text: str
    reasons: tuple[Reason, ...]

    @property
    def accepted(self) -> bool:
        """A (accepted) or E (accepted with errors noted): the payer will process it."""
        return self.status in ("A", "E")


@dataclass(frozen=True, slots=True)
class FunctionalAck:
    """A 999 (or 997) transaction set: the answer for one functional group we sent (AK1/AK9)."""

    kind: str
    control_number: str
    functional_id: str
    group_control_number: str
    version: str
    status: str
    status_text: str
    included: int | None
    received: int | None
    accepted_count: int | None
    reasons: tuple[Reason, ...]
    transactions: tuple[TransactionAck, ...]

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E", "P")


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _functional(tx: TransactionSet, component: str, defects: list[Defect]) -> FunctionalAck:
    root = tx.root
    ak1 = root.first("AK1")
    ak9 = root.first("AK9")
    if ak1 is None:
        defects.append(Defect(tx.segments[0].position, "ST", "ack.missing", f"{tx.id} {tx.control_number} has no AK1",
                              tx.control_number))
    if ak9 is None:
        defects.append(Defect(tx.segments[0].position, "ST", "ack.missing", f"{tx.id} {tx.control_number} has no AK9",
                              tx.control_number))
    is_999 = tx.id == "999"
    transactions = []
    for loop in (c for c in root.children if c.id == "2000"):
        transactions.append(_transaction_ack(loop, is_999, component, defects, tx.control_number))
    group_reasons = tuple(Reason(code, codes.text(codes.GROUP_ERROR, code))
                          for code in (ak9.elements[5:10] if ak9 is not None else ()) if code)
    status = ak9.get(1) if ak9 is not None else ""
    return FunctionalAck(
        kind=tx.id, control_number=tx.control_number, functional_id=ak1.get(1) if ak1 else "",
        group_control_number=ak1.get(2) if ak1 else "", version=ak1.get(3) if ak1 else "", status=status,
        status_text=codes.text(codes.TRANSACTION_STATUS, status),
        included=_int(ak9.get(2)) if ak9 else None, received=_int(ak9.get(3)) if ak9 else None,
        accepted_count=_int(ak9.get(4)) if ak9 else None, reasons=group_reasons, transactions=tuple(transactions))


def _transaction_ack(loop: Loop, is_999: bool, component: str, defects: list[Defect], control: str
                     ) -> TransactionAck:
    ak2 = loop.segments[0]
    trailer = loop.first("IK5" if is_999 else "AK5")
    if trailer is None:
        defects.append(Defect(ak2.position, "AK2", "ack.missing",
                              f"the response to transaction set {ak2.get(2)!r} has no {'IK5' if is_999 else 'AK5'}",
                              control))
    reasons: list[Reason] = []
    for seg_loop in (c for c in loop.children if c.id == "2100"):
        seg_err = seg_loop.segments[0]  # IK3 / AK3: id, position in set, loop id, error code
        position = _int(seg_err.get(2))
        reasons.append(Reason(seg_err.get(4), codes.text(codes.SEGMENT_ERROR, seg_err.get(4)),
                              segment_id=seg_err.get(1), segment_position=position, loop_id=seg_err.get(3)))
        element_segments = [c.segments[0] for c in seg_loop.children if c.id == "2110"]
        if not is_999:
            element_segments += seg_loop.all("AK4")
        for el_err in element_segments:  # IK4 / AK4: position (composite), reference number, code, bad value
            reasons.append(Reason(el_err.get(3), codes.text(codes.ELEMENT_ERROR, el_err.get(3)),
                                  segment_id=seg_err.get(1), segment_position=position, loop_id=seg_err.get(3),
                                  element=el_err.get(1).replace(component, "."), bad_value=el_err.get(4)))
    status = trailer.get(1) if trailer is not None else ""
    if trailer is not None:
        reasons += [Reason(code, codes.text(codes.TRANSACTION_ERROR, code)) for code in trailer.elements[2:7] if code]
    return TransactionAck(transaction_id=ak2.get(1), control_number=ak2.get(2), version=ak2.get(3), status=status,
                          status_text=codes.text(codes.TRANSACTION_STATUS, status), reasons=tuple(reasons))


# -- 277CA -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusCode:
    """One STC composite: category (A1, A3, ...), status code (20, 562, ...), entity (85, ...)."""

    category: str
    category_text: str
    code: str
    code_text: str
    entity: str = ""
    entity_text: str = ""


@dataclass(frozen=True, slots=True)
class Status:
    """One STC segment: up to three status composites, effective date, total charge."""

    codes: tuple[StatusCode, ...]
    effective: date | None
    charge_cents: int | None
    free_text: str = ""

    @property
    def rejected(self) -> bool:
        return any(c.category in codes.REJECTED_CATEGORIES for c in self.codes)


@dataclass(frozen=True, slots=True)
class LineStatus:
    """2220D: one service line's status, found by our REF*FJ line item control number."""

    line_item_control_number: str
    procedure: str
    charge_cents: int | None
    statuses: tuple[Status, ...]

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and not any(s.rejected for s in self.statuses)


@dataclass(frozen=True, slots=True)
class ClaimStatus:
    """2000D/2200D: one claim, by our CLM01 (`claim_id`, TRN02), with the payer's number (REF*1K)."""

    claim_id: str
    payer_claim_control_number: str
    clearinghouse_trace: str
    patient_last_name: str
    patient_first_name: str
    member_id: str
    billing_provider_npi: str
    service_date: date | None
    service_date_end: date | None
    statuses: tuple[Status, ...]
    lines: tuple[LineStatus, ...]
    position: int

    @property
    def accepted(self) -> bool:
        """No status of the claim puts it in a rejection category (A3, A4, A6, A7, A8, E0, E3, E4)."""
        return bool(self.statuses) and not any(s.rejected for s in self.statuses)

    @property
    def reasons(self) -> tuple[StatusCode, ...]:
        return tuple(code for status in self.statuses for code in status.codes)


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """2200B: the receiver's answer for our batch, by BHT03 (`reference`), with counts and amounts."""

    reference: str
    statuses: tuple[Status, ...]
    accepted_count: int | None
    rejected_count: int | None
    accepted_cents: int | None
    rejected_cents: int | None


@dataclass(frozen=True, slots=True)
class ClaimAck:
    """One 277CA transaction set."""

    control_number: str
    reference: str
    payer_name: str
    batches: tuple[BatchStatus, ...]
    claims: tuple[ClaimStatus, ...]


def _statuses(loop: Loop, component: str) -> tuple[Status, ...]:
    out = []
    for stc in loop.all("STC"):
        composites = [stc.get(1), stc.get(10), stc.get(11)]
        status_codes = []
        for composite in composites:
            if not composite:
                continue
            parts = [*composite.split(component), "", "", ""]
            status_codes.append(StatusCode(
                category=parts[0], category_text=codes.text(codes.CLAIM_STATUS_CATEGORY, parts[0]),
                code=parts[1], code_text=codes.text(codes.CLAIM_STATUS, parts[1]),
                entity=parts[2], entity_text=codes.text(codes.ENTITY, parts[2])))
        out.append(Status(codes=tuple(status_codes), effective=d8(stc.get(2)), charge_cents=cents(stc.get(4)),
                          free_text=stc.get(12)))
    return tuple(out)


def _qty(loop: Loop, qualifier: str) -> int | None:
    seg = loop.first("QTY", qualifier)
    if seg is None:
        return None
    try:
        return int(float(seg.get(2)))
    except ValueError:
        return None


def _amt(loop: Loop, qualifier: str) -> int | None:
    seg = loop.first("AMT", qualifier)
    return cents(seg.get(2)) if seg is not None else None


def _claim_ack(tx: TransactionSet, component: str) -> ClaimAck:
    root = tx.root
    bht = root.first("BHT")
    payer = next((loop.segments[0].get(3) for loop in root.walk("2100A")), "")
    batches = []
    for loop in root.walk("2200B"):
        batches.append(BatchStatus(reference=loop.segments[0].get(2), statuses=_statuses(loop, component),
                                   accepted_count=_qty(loop, "90"), rejected_count=_qty(loop, "AA"),
                                   accepted_cents=_amt(loop, "YU"), rejected_cents=_amt(loop, "YY")))
    claims = []
    for l2000c in root.walk("2000C"):
        npi = next((c.segments[0].get(9) for c in l2000c.children if c.id == "2100C"), "")
        for l2000d in (c for c in l2000c.children if c.id == "2000D"):
            patient = l2000d.child("2100D")
            nm1 = patient.segments[0] if patient is not None else None
            for l2200d in (c for c in l2000d.children if c.id == "2200D"):
                claims.append(_claim_status(l2200d, nm1, npi, component))
    return ClaimAck(control_number=tx.control_number, reference=bht.get(3) if bht else "", payer_name=payer,
                    batches=tuple(batches), claims=tuple(claims))


def _claim_status(loop: Loop, nm1: Segment | None, npi: str, component: str) -> ClaimStatus:
    trn = loop.segments[0]
    ref_1k, ref_d9 = loop.first("REF", "1K"), loop.first("REF", "D9")
    dtp = loop.first("DTP", "472")
    start = end = None
    if dtp is not None:
        if dtp.get(2) == "RD8":
            first, _, last = dtp.get(3).partition("-")
            start, end = d8(first), d8(last)
        else:
            start = d8(dtp.get(3))
    lines = []
    for l2220 in (c for c in loop.children if c.id.startswith("2220")):
        svc = l2220.segments[0]
        ref_fj = l2220.first("REF", "FJ")
        lines.append(LineStatus(line_item_control_number=ref_fj.get(2) if ref_fj else "",
                                procedure=svc.get(1).replace(component, ":"), charge_cents=cents(svc.get(2)),
                                statuses=_statuses(l2220, component)))
    return ClaimStatus(
        claim_id=trn.get(2), payer_claim_control_number=ref_1k.get(2) if ref_1k else "",
        clearinghouse_trace=ref_d9.get(2) if ref_d9 else "", patient_last_name=nm1.get(3) if nm1 else "",
        patient_first_name=nm1.get(4) if nm1 else "", member_id=nm1.get(9) if nm1 else "", billing_provider_npi=npi,
        service_date=start, service_date_end=end, statuses=_statuses(loop, component), lines=tuple(lines),
        position=trn.position)


# -- entry points ----------------------------------------------------------------------------


@dataclass(slots=True)
class Acknowledgements:
    """Everything acknowledging our files in one inbound interchange."""

    result: ReadResult
    interchange_acks: list[InterchangeAck] = field(default_factory=list)
    functional_acks: list[FunctionalAck] = field(default_factory=list)
    claim_acks: list[ClaimAck] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)


def _result(data: bytes | str | ReadResult) -> ReadResult:
    return data if isinstance(data, ReadResult) else read_interchange(data)


def read_acknowledgements(data: bytes | str | ReadResult) -> Acknowledgements:
    """TA1, 999/997 and 277 (277CA) content of any inbound interchange; never raises."""
    result = _result(data)
    out = Acknowledgements(result=result, defects=list(result.defects))
    try:
        component = result.delimiters.component if result.delimiters else ":"
        for ic in result.interchanges:
            out.interchange_acks += [_ta1(seg) for seg in ic.ta1]
        for tx in result.transactions():
            if tx.id in ("999", "997"):
                out.functional_acks.append(_functional(tx, component, out.defects))
            elif tx.id == "277":
                out.claim_acks.append(_claim_ack(tx, component))
    except Exception as exc:  # same guard as the reader: a bug becomes a defect, not a crash
        out.defects.append(Defect(0, "", "reader.internal", f"acknowledgement reader failed: {exc!r}"))
    return out


def read_999(data: bytes | str | ReadResult) -> Acknowledgements:
    """The 999 (and 997) acknowledgements in `data` (`functional_acks`), with any TA1."""
    return read_acknowledgements(data)


def read_277ca(data: bytes | str | ReadResult) -> Acknowledgements:
    """The 277CA claim acknowledgements in `data` (`claim_acks`)."""
    return read_acknowledgements(data)


def read_ta1(data: bytes | str | ReadResult) -> Acknowledgements:
    """The TA1 interchange acknowledgements in `data` (`interchange_acks`)."""
    return read_acknowledgements(data)
