"""Envelopes: ISA/IEA, GS/GE, ST/SE with their control numbers and counts.

Part of the reader (see `reader.py`): walks the numbered segments once, builds the
interchange/group/transaction tree and reports every envelope defect by segment number.
A missing trailer (a truncated file) closes what is open and says so.
"""

from __future__ import annotations

from praxis.formats.x12.loops import build_loops
from praxis.formats.x12.reader import (
    Defect,
    Delimiters,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
)

_ENVELOPE = frozenset(("ISA", "IEA", "GS", "GE", "ST", "SE"))


def _valid_id(seg_id: str) -> bool:
    return 2 <= len(seg_id) <= 3 and seg_id.isalnum() and seg_id.upper() == seg_id and seg_id[0].isalpha()


def walk_envelopes(segments: list[Segment], delimiters: Delimiters, defects: list[Defect]) -> list[Interchange]:
    interchanges: list[Interchange] = []
    n = len(segments)
    i = 0
    while i < n:
        seg = segments[i]
        sid = seg.elements[0]
        if sid == "ISA":
            ic, i = _interchange(segments, i, delimiters, defects)
            interchanges.append(ic)
        elif sid in ("GS", "ST") and not interchanges:
            # A bare group or transaction set (no ISA): read it inside a stand-in interchange.
            ic = Interchange("", "", "", "", "", "", "", "", "", "", delimiters)
            interchanges.append(ic)
            if sid == "GS":
                group, i = _group(segments, i, delimiters, defects, ic)
            else:
                group = FunctionalGroup("", "", "", "", "", "", "")
                while i < n and segments[i].elements[0] == "ST":
                    tx, i = _transaction(segments, i, group, defects, delimiters)
                    group.transactions.append(tx)
            ic.groups.append(group)
        else:
            defects.append(Defect(seg.position, sid, "envelope.outside",
                                  f"segment {sid} is outside any interchange (after IEA or before ISA)"))
            i += 1
    return interchanges


def _interchange(segments: list[Segment], i: int, delimiters: Delimiters, defects: list[Defect]
                 ) -> tuple[Interchange, int]:
    isa = segments[i]
    el = isa.elements
    if len(el) != 17:
        defects.append(Defect(isa.position, "ISA", "isa.elements", f"ISA has {len(el) - 1} elements, not 16"))
    el = el + [""] * (17 - len(el))
    control = el[13].strip()
    if not (len(control) == 9 and control.isdigit()):
        defects.append(Defect(isa.position, "ISA", "isa.control_number",
                              f"ISA13 {control!r} is not a 9-digit interchange control number"))
    if el[15].strip() not in ("P", "T", "I"):
        defects.append(Defect(isa.position, "ISA", "isa.usage", f"ISA15 {el[15]!r} is not P, T or I"))
    ic = Interchange(sender_qualifier=el[5].strip(), sender_id=el[6].strip(), receiver_qualifier=el[7].strip(),
                     receiver_id=el[8].strip(), date=el[9], time=el[10], version=el[12], control_number=control,
                     acknowledgment_requested=el[14], usage_indicator=el[15].strip(), delimiters=delimiters)
    i += 1
    n = len(segments)
    while i < n:
        seg = segments[i]
        sid = seg.elements[0]
        if sid == "GS":
            group, i = _group(segments, i, delimiters, defects, ic)
            ic.groups.append(group)
        elif sid == "TA1":
            ic.ta1.append(seg)
            i += 1
        elif sid == "IEA":
            if seg.get(1) != str(len(ic.groups)):
                defects.append(Defect(seg.position, "IEA", "iea.count",
                                      f"IEA01 says {seg.get(1)!r} functional groups, the interchange has "
                                      f"{len(ic.groups)}"))
            if seg.get(2) != control:
                defects.append(Defect(seg.position, "IEA", "iea.control_number",
                                      f"IEA02 {seg.get(2)!r} does not match ISA13 {control!r}"))
            return ic, i + 1
        elif sid == "ISA":
            defects.append(Defect(seg.position, "ISA", "iea.missing",
                                  f"interchange {control} has no IEA before the next ISA"))
            return ic, i
        elif sid == "ST":
            defects.append(Defect(seg.position, "ST", "gs.missing", "transaction set outside a functional group"))
            group = FunctionalGroup("", "", "", "", "", "", "")
            tx, i = _transaction(segments, i, group, defects, delimiters)
            group.transactions.append(tx)
            ic.groups.append(group)
        else:
            defects.append(Defect(seg.position, sid, "envelope.outside",
                                  f"segment {sid} is outside any functional group"))
            i += 1
    last = segments[-1]
    defects.append(Defect(last.position, last.elements[0], "iea.missing",
                          f"the file ends without IEA for interchange {control} (truncated?)"))
    return ic, n


def _group(segments: list[Segment], i: int, delimiters: Delimiters, defects: list[Defect], ic: Interchange
           ) -> tuple[FunctionalGroup, int]:
    gs = segments[i]
    group = FunctionalGroup(functional_id=gs.get(1), sender_code=gs.get(2), receiver_code=gs.get(3), date=gs.get(4),
                            time=gs.get(5), control_number=gs.get(6), version=gs.get(8))
    if not group.control_number.isdigit():
        defects.append(Defect(gs.position, "GS", "gs.control_number",
                              f"GS06 {group.control_number!r} is not a numeric group control number"))
    i += 1
    n = len(segments)
    while i < n:
        seg = segments[i]
        sid = seg.elements[0]
        if sid == "ST":
            tx, i = _transaction(segments, i, group, defects, delimiters)
            group.transactions.append(tx)
        elif sid == "GE":
            if seg.get(1) != str(len(group.transactions)):
                defects.append(Defect(seg.position, "GE", "ge.count",
                                      f"GE01 says {seg.get(1)!r} transaction sets, the group has "
                                      f"{len(group.transactions)}"))
            if seg.get(2) != group.control_number:
                defects.append(Defect(seg.position, "GE", "ge.control_number",
                                      f"GE02 {seg.get(2)!r} does not match GS06 {group.control_number!r}"))
            return group, i + 1
        elif sid in ("GS", "IEA", "ISA"):
            defects.append(Defect(seg.position, sid, "ge.missing",
                                  f"functional group {group.control_number} has no GE before {sid}"))
            return group, i
        else:
            defects.append(Defect(seg.position, sid, "envelope.outside",
                                  f"segment {sid} is outside any transaction set"))
            i += 1
    last = segments[-1]
    defects.append(Defect(last.position, last.elements[0], "ge.missing",
                          f"the file ends without GE for functional group {group.control_number} (truncated?)"))
    return group, n


def _transaction(segments: list[Segment], i: int, group: FunctionalGroup, defects: list[Defect],
                 delimiters: Delimiters) -> tuple[TransactionSet, int]:
    st = segments[i]
    control = st.get(2)
    tx_id = st.get(1)
    version = st.get(3) or group.version
    start = i
    n = len(segments)
    i += 1
    complete = False
    while i < n:
        seg = segments[i]
        sid = seg.elements[0]
        if sid == "SE":
            count = i - start + 1
            if seg.get(1) != str(count):
                defects.append(Defect(seg.position, "SE", "se.count",
                                      f"SE01 says {seg.get(1)!r} segments, the transaction set has {count}",
                                      control))
            if seg.get(2) != control:
                defects.append(Defect(seg.position, "SE", "se.control_number",
                                      f"SE02 {seg.get(2)!r} does not match ST02 {control!r}", control))
            i += 1
            complete = True
            break
        if sid in _ENVELOPE:
            defects.append(Defect(seg.position, sid, "se.missing",
                                  f"transaction set {control} has no SE before {sid}", control))
            break
        if not _valid_id(sid):
            defects.append(Defect(seg.position, sid[:8], "segment.id", f"{sid[:8]!r} is not a segment id", control))
        i += 1
    else:
        last = segments[-1]
        defects.append(Defect(last.position, last.elements[0], "se.missing",
                              f"the file ends without SE for transaction set {control} (truncated?)", control))
    if not control:
        defects.append(Defect(st.position, "ST", "st.control_number", "ST02 (control number) is empty", control))
    body = segments[start:i]
    root = build_loops(tx_id, version, body, defects, control, delimiters.component)
    return TransactionSet(id=tx_id, control_number=control, version=version, segments=body, root=root,
                          complete=complete), i
