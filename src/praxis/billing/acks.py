"""What billing needs from inbound acknowledgements (999, 277CA, TA1), read by `praxis.formats.x12`'s
typed readers and reduced to the few facts the claim statuses depend on.

A file the reader finds defects in (truncated, broken envelope, missing AK1/AK9) is refused as a
whole with `AckError` naming the first defects by segment number and reason: a half-read
acknowledgement must never move half the claims. Only trailer counts and control numbers that do
not match their headers (a sender's bookkeeping slip in an otherwise complete file: every segment
and trailer is there) are accepted, and kept as warnings on the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from praxis.formats import x12

TOLERATED = frozenset({"iea.control_number", "iea.count", "ge.control_number", "ge.count", "se.count",
                       "se.control_number"})


class AckError(ValueError):
    """The file is not a readable X12 acknowledgement (with the segment number and reason)."""


@dataclass(frozen=True)
class TransactionAck:
    """A 999's verdict on one transaction set (AK2/IK5): A accepted, E accepted with errors, R/M/W/X
    rejected; `errors` are the segment and element notes, readable."""

    set_id: str
    control_number: str
    status: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimStatus:
    """A 277CA's verdict on one claim: its CLM01, the status codes (category:code[:entity]) with their
    texts, and the payer's claim number."""

    claim_number: str
    accepted: bool
    codes: tuple[str, ...]
    texts: tuple[str, ...] = ()
    payer_claim_number: str = ""

    @property
    def category(self) -> str:
        return self.codes[0].split(":", 1)[0] if self.codes else ""


@dataclass
class Ack:
    kind: str  # 999 | 277CA | TA1
    sender_id: str
    receiver_id: str
    interchange_control_number: str
    group_control_number: str = ""  # 999: AK1-02, the group acknowledged
    group_status: str = ""  # 999: AK9-01
    transactions: list[TransactionAck] = field(default_factory=list)
    claims: list[ClaimStatus] = field(default_factory=list)
    ta1_control_number: str = ""  # TA1-01: the interchange acknowledged
    ta1_status: str = ""  # TA1-04: A | E | R
    ta1_note: str = ""  # TA1-05 with its text
    warnings: list[str] = field(default_factory=list)  # tolerated defects (see the module docstring)


def _reason(r: x12.acks.Reason) -> str:
    where = f"{r.segment_id} at segment {r.segment_position}" if r.segment_id else ""
    if r.element:
        where += f" element {r.element}"
    text = f"{r.text} ({r.code})" if r.text else r.code
    return f"{where}: {text}" if where else text


def _defect(d: x12.Defect) -> str:
    return f"segment {d.segment} {d.segment_id}: {d.message}" if d.segment_id else f"segment {d.segment}: {d.message}"


def read_ack(text: str | bytes) -> Ack:
    """Read a 999, 277CA or TA1 interchange; `AckError` when it has defects or holds none of them."""
    acks = x12.read_acknowledgements(text)
    fatal = [d for d in acks.defects if d.code not in TOLERATED]
    if fatal:
        shown = "; ".join(_defect(d) for d in fatal[:3])
        raise AckError(shown + (f" (and {len(fatal) - 3} more)" if len(fatal) > 3 else ""))
    if not acks.result.interchanges:
        raise AckError("segment 1: no interchange")
    ic = acks.result.interchanges[0]
    ack = Ack(kind="", sender_id=ic.sender_id.strip(), receiver_id=ic.receiver_id.strip(),
              interchange_control_number=ic.control_number, warnings=[_defect(d) for d in acks.defects])
    if acks.functional_acks:
        fa = acks.functional_acks[0]
        ack.kind, ack.group_control_number, ack.group_status = "999", fa.group_control_number, fa.status
        for f in acks.functional_acks:
            ack.transactions += [TransactionAck(t.transaction_id, t.control_number, t.status,
                                                tuple(_reason(r) for r in t.reasons)) for t in f.transactions]
    elif acks.claim_acks:
        ack.kind = "277CA"
        for ca in acks.claim_acks:
            ack.claims += [ClaimStatus(
                claim_number=c.claim_id, accepted=c.accepted,
                codes=tuple(":".join(x for x in (r.category, r.code, r.entity) if x) for r in c.reasons),
                texts=tuple(r.code_text or r.category_text for r in c.reasons),
                payer_claim_number=c.payer_claim_control_number) for c in ca.claims]
    elif acks.interchange_acks:
        ta = acks.interchange_acks[0]
        ack.kind, ack.ta1_control_number, ack.ta1_status = "TA1", ta.control_number, ta.status
        ack.ta1_note = f"{ta.note_code} {ta.note_text}".strip()
    else:
        raise AckError("segment 2: no TA1, 999 or 277 in the interchange")
    return ack
