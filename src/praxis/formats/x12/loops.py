"""Loops per transaction set: which segment opens which loop, and the structural rules.

A loop spec says, for a transaction set: which HL level code opens which loop (837, 27x),
which segment (or segment + qualifier in element 01) opens which loop under which parents,
which segments close back to an enclosing loop (999 IK5, 835 PLB), which child loops a loop
must have (alternatives allowed) and which segments. `build_loops` walks the segments once
with a stack of open loops: a loop-opening segment attaches to the nearest open loop that
may be its parent; any other segment belongs to the innermost open loop.

Covered: 837 (P with its guide's required loops; I/D loop recognition), 835, 999, 997,
277/277CA, 276, 270/271. Anything else is read flat (every segment in the root loop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from praxis.formats.x12.reader import Defect, Loop, Segment

Trigger = tuple[str, frozenset[str]]


def _t(loop_id: str, *parents: str) -> Trigger:
    return loop_id, frozenset(parents)


@dataclass(frozen=True)
class LoopSpec:
    name: str
    hl: dict[str, Trigger] = field(default_factory=dict)
    triggers: dict[str, tuple[Trigger, ...]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    required_loops: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    required_segments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    required_elements: dict[str, tuple[int, ...]] = field(default_factory=dict)
    known_names: frozenset[str] = frozenset()
    """NM101 codes this set knows (837: a name loop for each); others are reported."""
    address_pairs: bool = False
    """N3 is always followed by N4, and N4 preceded by N3 (every 837 address)."""


_837_TRIGGERS: dict[str, tuple[Trigger, ...]] = {
    "NM1*41": (_t("1000A", "ST"),),
    "NM1*40": (_t("1000B", "ST"),),
    "NM1*85": (_t("2010AA", "2000A"), _t("2330G", "2320")),
    "NM1*87": (_t("2010AB", "2000A"),),
    "NM1*PE": (_t("2010AC", "2000A"), _t("2420G", "2400")),
    "NM1*IL": (_t("2010BA", "2000B"), _t("2330A", "2320")),
    "NM1*PR": (_t("2010BB", "2000B"), _t("2330B", "2320")),
    "NM1*QC": (_t("2010CA", "2000C"),),
    "CLM": (_t("2300", "2000B", "2000C"),),
    "NM1*DN": (_t("2310A", "2300"), _t("2330C", "2320"), _t("2420F", "2400")),
    "NM1*82": (_t("2310B", "2300"), _t("2330D", "2320"), _t("2420A", "2400")),
    "NM1*77": (_t("2310C", "2300"), _t("2330E", "2320"), _t("2420C", "2400")),
    "NM1*DQ": (_t("2310D", "2300"), _t("2330F", "2320"), _t("2420D", "2400")),
    "NM1*PW": (_t("2310E", "2300"),),
    "NM1*45": (_t("2310F", "2300"),),
    "NM1*71": (_t("2310A", "2300"),),
    "NM1*72": (_t("2310B", "2300"),),
    "NM1*ZZ": (_t("2310C", "2300"),),
    "NM1*QB": (_t("2420B", "2400"),),
    "NM1*DK": (_t("2420E", "2400"),),
    "SBR": (_t("2320", "2300"),),
    "LX": (_t("2400", "2300"),),
    "LIN": (_t("2410", "2400"),),
    "SVD": (_t("2430", "2400"),),
    "LQ": (_t("2440", "2400"),),
}
_837_HL = {"20": _t("2000A", "ST"), "22": _t("2000B", "2000A"), "23": _t("2000C", "2000B")}
_837_LABELS = {
    "1000A": "submitter name (NM1*41)", "1000B": "receiver name (NM1*40)", "2000A": "billing provider (HL*20)",
    "2010AA": "billing provider name (NM1*85)", "2000B": "subscriber (HL*22)", "2010BA": "subscriber name (NM1*IL)",
    "2010BB": "payer name (NM1*PR)", "2000C": "patient (HL*23)", "2010CA": "patient name (NM1*QC)",
    "2300": "claim (CLM)", "2400": "service line (LX)", "2320": "other subscriber (SBR)",
    "2330A": "other subscriber name (NM1*IL)", "2330B": "other payer name (NM1*PR)",
}

SPEC_837P = LoopSpec(
    name="837P", hl=_837_HL, triggers=_837_TRIGGERS, owners={"SE": "ST"},
    required_loops={"ST": (("1000A",), ("1000B",), ("2000A",)), "2000A": (("2010AA",), ("2000B",)),
                    "2000B": (("2010BA",), ("2010BB",), ("2300", "2000C")), "2000C": (("2010CA",), ("2300",)),
                    "2300": (("2400",),), "2320": (("2330A",), ("2330B",))},
    required_segments={"ST": ("BHT",), "2000B": ("SBR",), "2000C": ("PAT",), "2300": ("HI",), "2400": ("SV1", "DTP")},
    labels=_837_LABELS,
    required_elements={"BHT": (1, 2, 4, 5, 6), "HL": (1, 3, 4), "NM1": (1, 2), "N3": (1,), "N4": (1,), "SBR": (1, 9),
                       "PAT": (1,), "DMG": (1, 2, 3), "CLM": (1, 2, 5, 6, 7, 8, 9), "HI": (1,), "LX": (1,),
                       "SV1": (1, 2, 3, 4, 7), "DTP": (1, 2, 3), "REF": (1, 2), "PRV": (1, 2, 3), "OI": (3, 6),
                       "SVD": (1, 2, 3, 5), "AMT": (1, 2), "CAS": (1, 2, 3)},
    known_names=frozenset(k[4:] for k in _837_TRIGGERS if k.startswith("NM1*")),
    address_pairs=True,
)
SPEC_837 = LoopSpec(
    name="837", hl=_837_HL, triggers=_837_TRIGGERS, owners={"SE": "ST"},
    required_loops={"ST": (("1000A",), ("1000B",), ("2000A",)), "2000A": (("2010AA",),),
                    "2000B": (("2010BA",), ("2010BB",)), "2300": (("2400",),)},
    required_segments={"ST": ("BHT",), "2000B": ("SBR",)},
    labels=_837_LABELS,
)
SPEC_835 = LoopSpec(
    name="835",
    triggers={"N1*PR": (_t("1000A", "ST"),), "N1*PE": (_t("1000B", "ST"),), "LX": (_t("2000", "ST"),),
              "CLP": (_t("2100", "2000", "ST"),), "SVC": (_t("2110", "2100"),)},
    owners={"PLB": "ST", "SE": "ST"},
    required_loops={"ST": (("1000A",), ("1000B",))},
    required_segments={"ST": ("BPR", "TRN")},
    labels={"1000A": "payer identification (N1*PR)", "1000B": "payee identification (N1*PE)",
            "2100": "claim payment (CLP)", "2110": "service payment (SVC)"},
)
SPEC_999 = LoopSpec(
    name="999",
    triggers={"AK2": (_t("2000", "ST"),), "IK3": (_t("2100", "2000"),), "IK4": (_t("2110", "2100"),)},
    owners={"IK5": "2000", "AK9": "ST", "SE": "ST"},
    required_segments={"ST": ("AK1", "AK9"), "2000": ("IK5",)},
    labels={"2000": "transaction set response (AK2)"},
)
SPEC_997 = LoopSpec(
    name="997",
    triggers={"AK2": (_t("2000", "ST"),), "AK3": (_t("2100", "2000"),)},
    owners={"AK5": "2000", "AK9": "ST", "SE": "ST"},
    required_segments={"ST": ("AK1", "AK9"), "2000": ("AK5",)},
)
_27X_NM1 = (_t("2100A", "2000A"), _t("2100B", "2000B"), _t("2100C", "2000C"), _t("2100D", "2000D"),
            _t("2100E", "2000E"))
SPEC_277 = LoopSpec(
    name="277",
    hl={"20": _t("2000A", "ST"), "21": _t("2000B", "2000A"), "19": _t("2000C", "2000B"),
        "PT": _t("2000D", "2000C"), "22": _t("2000D", "2000C"), "23": _t("2000E", "2000D")},
    triggers={"NM1": _27X_NM1,
              "TRN": (_t("2200A", "2000A"), _t("2200B", "2000B"), _t("2200C", "2000C"), _t("2200D", "2000D"),
                      _t("2200E", "2000E")),
              "SVC": (_t("2220D", "2200D"), _t("2220E", "2200E"))},
    owners={"SE": "ST"},
    required_loops={"ST": (("2000A",),), "2000A": (("2100A",),), "2000B": (("2100B",),), "2000C": (("2100C",),),
                    "2000D": (("2100D",),)},
    required_segments={"ST": ("BHT",)},
    labels={"2000A": "information source (HL*20)", "2100A": "information source name (NM1)",
            "2100B": "information receiver name (NM1)", "2100C": "provider name (NM1)", "2100D": "patient name (NM1)"},
)
SPEC_276 = LoopSpec(name="276", hl=SPEC_277.hl, triggers=SPEC_277.triggers, owners={"SE": "ST"},
                    required_loops=SPEC_277.required_loops, required_segments={"ST": ("BHT",)},
                    labels=SPEC_277.labels)
_27X_ELIG = {"20": _t("2000A", "ST"), "21": _t("2000B", "2000A"), "22": _t("2000C", "2000B"),
             "23": _t("2000D", "2000C")}
SPEC_270 = LoopSpec(
    name="270/271", hl=_27X_ELIG,
    triggers={"NM1": (_t("2100A", "2000A"), _t("2100B", "2000B"), _t("2100C", "2000C"), _t("2100D", "2000D"),
                      _t("2120C", "2110C"), _t("2120D", "2110D")),
              "EQ": (_t("2110C", "2100C"), _t("2110D", "2100D")),
              "EB": (_t("2110C", "2100C"), _t("2110D", "2100D"))},
    owners={"SE": "ST"},
    required_loops={"ST": (("2000A",),), "2000A": (("2100A",),), "2000B": (("2100B",),), "2000C": (("2100C",),),
                    "2000D": (("2100D",),)},
    required_segments={"ST": ("BHT",)},
    labels={"2100A": "information source name (NM1)", "2100B": "information receiver name (NM1)",
            "2100C": "subscriber name (NM1)", "2100D": "dependent name (NM1)"},
)

_SPECS = {"835": SPEC_835, "999": SPEC_999, "997": SPEC_997, "277": SPEC_277, "276": SPEC_276,
          "270": SPEC_270, "271": SPEC_270}


def spec_for(transaction_id: str, version: str) -> LoopSpec | None:
    """The loop spec for ST01 and the guide (ST03/GS08); None reads the set flat."""
    if transaction_id == "837":
        return SPEC_837P if "X222" in version else SPEC_837
    return _SPECS.get(transaction_id)


def build_loops(transaction_id: str, version: str, body: list[Segment], defects: list[Defect],
                control: str, component: str = ":") -> Loop:
    """The loop tree of one transaction set (ST..SE), adding structural defects."""
    root = Loop("ST")
    spec = spec_for(transaction_id, version)
    if spec is None:
        root.segments = list(body)
        return root
    hl_codes = spec.hl
    triggers = spec.triggers
    owners = spec.owners
    stack: list[Loop] = [root]
    hl_seen: set[str] = set()
    hl_expected = 1
    required_elements = spec.required_elements
    known_names = spec.known_names
    previous = ""
    for seg in body:
        el = seg.elements
        sid = el[0]
        if required_elements:
            required = required_elements.get(sid)
            if required is not None:
                n = len(el)
                for index in required:
                    if index >= n or not el[index]:
                        defects.append(Defect(seg.position, sid, "element.missing",
                                              f"{sid}{index:02d} is required", control))
            if sid == "NM1" and known_names and len(el) > 1 and el[1] and el[1] not in known_names:
                defects.append(Defect(seg.position, sid, "segment.unexpected",
                                      f"NM1*{el[1]} names no loop of the {spec.name}", control))
            if spec.address_pairs and (sid == "N4") != (previous == "N3"):
                if sid == "N4":
                    defects.append(Defect(seg.position, sid, "segment.order", "N4 does not follow an N3", control))
                else:
                    defects.append(Defect(seg.position - 1, "N3", "segment.order", "N3 is not followed by N4",
                                          control))
            previous = sid
        if sid == "HL" and hl_codes:
            code = el[3] if len(el) > 3 else ""
            hl_id = el[1] if len(el) > 1 else ""
            parent_id = el[2] if len(el) > 2 else ""
            if hl_id != str(hl_expected):
                defects.append(Defect(seg.position, "HL", "hl.sequence",
                                      f"HL01 is {hl_id!r}, expected {hl_expected}", control))
            if parent_id and parent_id not in hl_seen:
                defects.append(Defect(seg.position, "HL", "hl.parent",
                                      f"HL02 {parent_id!r} names no earlier HL", control))
            hl_seen.add(hl_id)
            hl_expected += 1
            target = hl_codes.get(code)
            if target is None:
                defects.append(Defect(seg.position, "HL", "hl.level",
                                      f"HL03 {code!r} is not a level of the {spec.name} hierarchy", control))
                stack[-1].segments.append(seg)
                continue
            if not _open(stack, (target,), seg):
                defects.append(Defect(seg.position, "HL", "hl.order",
                                      f"HL level {code!r} ({target[0]}) has no parent level open", control))
                loop = Loop(target[0], [seg])
                root.children.append(loop)
                del stack[1:]
                stack.append(loop)
            continue
        candidates = triggers.get(f"{sid}*{el[1]}" if len(el) > 1 else sid) or triggers.get(sid)
        if candidates is not None and _open(stack, candidates, seg):
            continue
        owner = owners.get(sid)
        if owner is not None:
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth].id == owner:
                    del stack[depth + 1:]
                    break
        stack[-1].segments.append(seg)
    if spec.address_pairs and previous == "N3":
        defects.append(Defect(body[-1].position, "N3", "segment.order", "N3 is not followed by N4", control))
    _check(root, spec, defects, control, body[0] if body else None)
    if spec is SPEC_837P:
        _check_claims(root, defects, control, component)
    return root


def _open(stack: list[Loop], candidates: tuple[Trigger, ...], seg: Segment) -> bool:
    """Open the candidate loop under the nearest open loop that may be its parent."""
    for depth in range(len(stack) - 1, -1, -1):
        open_id = stack[depth].id
        for loop_id, parents in candidates:
            if open_id in parents:
                del stack[depth + 1:]
                loop = Loop(loop_id, [seg])
                stack[depth].children.append(loop)
                stack.append(loop)
                return True
    return False


def _check(loop: Loop, spec: LoopSpec, defects: list[Defect], control: str, first: Segment | None) -> None:
    at = loop.segments[0] if loop.segments else first
    position, seg_id = (at.position, at.elements[0]) if at is not None else (0, "")
    labels = spec.labels
    for alternatives in spec.required_loops.get(loop.id, ()):
        if not any(child.id in alternatives for child in loop.children):
            wanted = " or ".join(f"{a} ({labels[a]})" if a in labels else a for a in alternatives)
            defects.append(Defect(position, seg_id, "loop.missing",
                                  f"loop {_label(loop.id, labels)} has no {wanted}", control))
    for required in spec.required_segments.get(loop.id, ()):
        if not any(seg.elements[0] == required for seg in loop.segments):
            defects.append(Defect(position, seg_id, "segment.missing",
                                  f"loop {_label(loop.id, labels)} has no {required} segment", control))
    for child in loop.children:
        _check(child, spec, defects, control, at)


def _label(loop_id: str, labels: dict[str, str]) -> str:
    return f"{loop_id} ({labels[loop_id]})" if loop_id in labels else loop_id


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except (InvalidOperation, ValueError):
        return None


def _check_claims(root: Loop, defects: list[Defect], control: str, component: str) -> None:
    """CLM02 is the sum of the claim's SV102 line charges; HI holds qualifier:code composites;
    SV107 points at diagnoses the claim has (837P guide rules)."""
    for claim in root.walk("2300"):
        clm = claim.segments[0]
        diagnoses = 0
        for hi in claim.all("HI"):
            for index in range(1, len(hi.elements)):
                value = hi.elements[index]
                if value and component not in value:
                    defects.append(Defect(hi.position, "HI", "element.invalid",
                                          f"HI{index:02d} {value!r} is not a qualifier{component}code composite",
                                          control))
                elif value and value.split(component, 1)[0] in ("ABK", "ABF", "BK", "BF"):
                    diagnoses += 1
        for line in claim.children:
            sv1 = line.first("SV1") if line.id == "2400" else None
            if sv1 is None:
                continue
            for pointer in sv1.get(7).split(component):
                if pointer and (not pointer.isdigit() or not 1 <= int(pointer) <= max(diagnoses, 1)):
                    defects.append(Defect(sv1.position, "SV1", "element.invalid",
                                          f"SV107 pointer {pointer!r} points at no diagnosis of the claim "
                                          f"({diagnoses} in HI)", control))
        total = _decimal(clm.get(2))
        if total is None:
            defects.append(Defect(clm.position, "CLM", "element.invalid",
                                  f"CLM02 {clm.get(2)!r} is not an amount", control))
            continue
        lines = Decimal(0)
        for line in claim.children:
            if line.id != "2400":
                continue
            sv1 = line.first("SV1")
            if sv1 is None:
                continue
            amount = _decimal(sv1.get(2))
            if amount is None:
                defects.append(Defect(sv1.position, "SV1", "element.invalid",
                                      f"SV102 {sv1.get(2)!r} is not an amount", control))
                break
            lines += amount
        else:
            if lines != total:
                defects.append(Defect(clm.position, "CLM", "837.claim_total",
                                      f"CLM02 {clm.get(2)} is not the sum of the line charges ({lines})", control))
