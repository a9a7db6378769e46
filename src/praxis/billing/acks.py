"""What billing needs from inbound acknowledgements (999, 277CA, TA1), read by pure code.

Adapter on billing's side until `praxis.formats.x12` ships its typed 999/277CA/TA1 readers (being
written concurrently); it reads only the few segments the claim statuses depend on and reports a
file it cannot read as `AckError` naming the segment and reason, never a crash. Replace the body of
`read_ack` with the formats readers when they land; callers use only the dataclasses below.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class AckError(ValueError):
    """The file is not a readable X12 acknowledgement (with the segment number and reason)."""


@dataclass(frozen=True)
class TransactionAck:
    """A 999's verdict on one transaction set (AK2/IK5): A accepted, E accepted with errors, R/M/W/X
    rejected; `errors` are the IK3/IK4 segment and element notes."""

    set_id: str
    control_number: str
    status: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimStatus:
    """A 277CA's verdict on one claim: its CLM01 (TRN02), the STC category codes and the payer's
    claim number (REF*1K)."""

    claim_number: str
    category: str  # A1, A2 accepted; A3, A4, A6, A7, A8 rejected/returned
    codes: tuple[str, ...]
    payer_claim_number: str = ""
    amount: str = ""

    @property
    def accepted(self) -> bool:
        return self.category in ("A1", "A2", "A5")


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
    ta1_note: str = ""  # TA1-05


def segments(text: str) -> tuple[list[list[str]], str]:
    """Split an interchange into segments of elements, separators taken from ISA."""
    data = text.lstrip("\ufeff \r\n\t")
    if not data.startswith("ISA") or len(data) < 106:
        raise AckError("segment 1: the file does not start with a complete ISA segment")
    element, component, terminator = data[3], data[104], data[105]
    segs = []
    for raw in data.split(terminator):
        raw = raw.strip("\r\n ")
        if raw:
            segs.append(raw.split(element))
    return segs, component


def read_ack(text: str) -> Ack:
    """Read a 999, 277CA or TA1 interchange (the first functional group decides the kind)."""
    segs, comp = segments(text)
    isa = segs[0]
    if len(isa) < 17:
        raise AckError("segment 1: ISA has fewer than 16 elements")
    ack = Ack(kind="", sender_id=isa[6].strip(), receiver_id=isa[8].strip(), interchange_control_number=isa[13])
    if segs[-1][0] != "IEA":
        raise AckError(f"segment {len(segs)}: the interchange is truncated (no IEA)")
    current: list[str] | None = None
    errors: list[str] = []
    claim_trn = ""
    in_claim = False
    for n, seg in enumerate(segs, start=1):
        tag = seg[0]
        try:
            if tag == "TA1":
                ack.kind = ack.kind or "TA1"
                ack.ta1_control_number, ack.ta1_status = seg[1], seg[4]
                ack.ta1_note = seg[5] if len(seg) > 5 else ""
            elif tag == "ST":
                if seg[1] == "999":
                    ack.kind = "999"
                elif seg[1] == "277":
                    ack.kind = "277CA"
                elif not ack.kind:
                    raise AckError(f"segment {n}: transaction set {seg[1]} is not an acknowledgement billing reads")
            elif tag == "AK1":
                ack.group_control_number = seg[2]
            elif tag == "AK2":
                current, errors = [seg[1], seg[2]], []
            elif tag in ("IK3", "IK4"):
                errors.append(f"{tag} " + "*".join(seg[1:]))
            elif tag == "IK5":
                if current is None:
                    raise AckError(f"segment {n}: IK5 without AK2")
                ack.transactions.append(TransactionAck(current[0], current[1], seg[1], tuple(errors)))
                current = None
            elif tag == "AK9":
                ack.group_status = seg[1]
            elif tag == "HL" and ack.kind == "277CA":
                in_claim = len(seg) > 3 and seg[3] == "PT"
                claim_trn = ""
            elif tag == "TRN" and ack.kind == "277CA" and in_claim:
                claim_trn = seg[2]
            elif tag == "STC" and ack.kind == "277CA" and in_claim and claim_trn:
                parts = seg[1].split(comp)
                ack.claims.append(ClaimStatus(claim_trn, parts[0], tuple(parts[1:]),
                                              amount=seg[4] if len(seg) > 4 else ""))
            elif tag == "REF" and ack.kind == "277CA" and in_claim and seg[1] == "1K" and ack.claims \
                    and ack.claims[-1].claim_number == claim_trn:
                last = ack.claims[-1]
                ack.claims[-1] = ClaimStatus(last.claim_number, last.category, last.codes, seg[2], last.amount)
        except IndexError:
            raise AckError(f"segment {n}: {tag} has too few elements") from None
    if not ack.kind:
        raise AckError("segment 2: no TA1, 999 or 277 in the interchange")
    return ack
