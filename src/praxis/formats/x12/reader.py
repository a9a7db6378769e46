"""X12 reader for any interchange: separators from ISA, envelopes, segments, loops, defects.

`read_interchange(data)` never raises: whatever the bytes, it returns a `ReadResult` whose
`defects` name each problem by segment number (1-based position in the file, ISA = 1) and
reason. Envelope checks: ISA layout, IEA/GE/SE control numbers and counts, segments outside
their envelope, a file that ends before its trailers (truncation). Loops are recognised per
transaction set (`loops.py`), with the structural checks each set defines.

Hot path: one `str.split` for segments and one per segment for elements, a small object per
segment, no regular expressions per segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

ISA_LENGTH = 106  # "ISA" + 16 fixed-width elements and their separators, without the terminator


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The separators an interchange declares (element ISA 4th char, ISA11, ISA16, terminator)."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


@dataclass(frozen=True, slots=True)
class Defect:
    """One problem: where (`segment`, 1-based in the file; 0 when the file has none) and why.

    `code` is stable for programs (e.g. "se.count"); `message` is for people.
    `transaction` is the ST02 of the transaction set it belongs to, when it belongs to one.
    """

    segment: int
    segment_id: str
    code: str
    message: str
    transaction: str = ""

    def __str__(self) -> str:
        where = f"segment {self.segment}" + (f" ({self.segment_id})" if self.segment_id else "")
        return f"{where}: {self.message}"


class Segment:
    """One segment: `elements[0]` is its id; `elements[n]` is X12's SEGnn (e.g. CLM01 = [1])."""

    __slots__ = ("elements", "position")

    def __init__(self, elements: list[str], position: int) -> None:
        self.elements = elements
        self.position = position

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, index: int) -> str:
        """Element `index` (1-based, as in CLM01), "" when absent."""
        elements = self.elements
        return elements[index] if index < len(elements) else ""

    def __repr__(self) -> str:
        return f"Segment({self.position}, {'*'.join(self.elements)!r})"


@dataclass(slots=True)
class Loop:
    """A loop of a transaction set (e.g. "2300"): its own segments and its child loops.

    The transaction's root loop has id "ST" and holds the header and trailer segments.
    """

    id: str
    segments: list[Segment] = field(default_factory=list)
    children: list[Loop] = field(default_factory=list)

    def walk(self, loop_id: str) -> Iterator[Loop]:
        """Every descendant loop with this id, in file order (depth first)."""
        for child in self.children:
            if child.id == loop_id:
                yield child
            yield from child.walk(loop_id)

    def child(self, loop_id: str) -> Loop | None:
        """The first direct child loop with this id."""
        for child in self.children:
            if child.id == loop_id:
                return child
        return None

    def first(self, segment_id: str, qualifier: str | None = None) -> Segment | None:
        """The loop's first own segment with this id (and element 01 equal to `qualifier`)."""
        for seg in self.segments:
            if seg.elements[0] == segment_id and (qualifier is None or seg.get(1) == qualifier):
                return seg
        return None

    def all(self, segment_id: str, qualifier: str | None = None) -> list[Segment]:
        """The loop's own segments with this id (and element 01 equal to `qualifier`)."""
        return [seg for seg in self.segments
                if seg.elements[0] == segment_id and (qualifier is None or seg.get(1) == qualifier)]


@dataclass(slots=True)
class TransactionSet:
    """ST..SE: `id` (ST01, e.g. "837"), `control_number` (ST02), `version` (ST03 or GS08)."""

    id: str
    control_number: str
    version: str
    segments: list[Segment]
    root: Loop
    complete: bool = True

    def position_in_set(self, seg: Segment) -> int:
        """The segment's position counted from ST = 1 (what a 999 IK3 reports)."""
        return seg.position - self.segments[0].position + 1


@dataclass(slots=True)
class FunctionalGroup:
    """GS..GE: functional id (GS01, e.g. "HC"), sender/receiver codes, control number (GS06)."""

    functional_id: str
    sender_code: str
    receiver_code: str
    date: str
    time: str
    control_number: str
    version: str
    transactions: list[TransactionSet] = field(default_factory=list)


@dataclass(slots=True)
class Interchange:
    """ISA..IEA with its groups and any TA1 interchange acknowledgements it carries."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    version: str
    control_number: str
    acknowledgment_requested: str
    usage_indicator: str
    delimiters: Delimiters
    groups: list[FunctionalGroup] = field(default_factory=list)
    ta1: list[Segment] = field(default_factory=list)


@dataclass(slots=True)
class ReadResult:
    """What the reader found: interchanges (possibly partial), every segment, every defect."""

    interchanges: list[Interchange]
    segments: list[Segment]
    defects: list[Defect]
    delimiters: Delimiters | None

    @property
    def ok(self) -> bool:
        return not self.defects

    def transactions(self, transaction_id: str | None = None) -> Iterator[TransactionSet]:
        """Every transaction set (of one kind when `transaction_id` is given), in file order."""
        for ic in self.interchanges:
            for group in ic.groups:
                for tx in group.transactions:
                    if transaction_id is None or tx.id == transaction_id:
                        yield tx


def _delimiters_from_isa(text: str, defects: list[Defect]) -> Delimiters | None:
    """Separators from a text starting with "ISA"; None when no interchange can be read."""
    if len(text) < 4:
        defects.append(Defect(1, "ISA", "isa.short", "the ISA segment is cut short"))
        return None
    element = text[3]
    if element.isalnum() or element in " \r\n":
        defects.append(Defect(1, "ISA", "isa.element_separator",
                              f"{element!r} cannot be the element separator (ISA's fourth character)"))
        return None
    if len(text) > ISA_LENGTH and text.count(element, 0, ISA_LENGTH) == 16:
        repetition, component, segment = text[82], text[104], text[105]
    else:
        # Not fixed width: find ISA16 by counting separators, tell the sender, read on.
        at = -1
        for _ in range(16):
            at = text.find(element, at + 1)
            if at < 0:
                defects.append(Defect(1, "ISA", "isa.short", "the ISA segment has fewer than 16 elements"))
                return None
        if at + 2 >= len(text):
            defects.append(Defect(1, "ISA", "isa.short", "the ISA segment is cut short"))
            return None
        component, segment = text[at + 1], text[at + 2]
        fields_ = text[:at].split(element)
        repetition = fields_[11] if len(fields_) > 11 and len(fields_[11]) == 1 else "^"
        defects.append(Defect(1, "ISA", "isa.length",
                              f"the ISA segment is {at + 2} characters, not the fixed {ISA_LENGTH}"))
    if segment.isalnum() or segment == " " or segment in (element, component):
        defects.append(Defect(1, "ISA", "isa.segment_terminator",
                              f"{segment!r} cannot be the segment terminator"))
        return None
    if component.isalnum() or component in (" ", element):
        defects.append(Defect(1, "ISA", "isa.component_separator",
                              f"{component!r} cannot be the component separator (ISA16)"))
        component = "\x00"
    if repetition.isalnum() or repetition in (" ", element, component, segment):
        repetition = "\x01"  # 4010 "U" or nonsense: no repetition separator
    return Delimiters(element=element, component=component, repetition=repetition, segment=segment)


def _guess_delimiters(text: str) -> Delimiters | None:
    """For a file that starts at ST or GS without ISA: element separator after the id, terminator
    is the first "~", else a new line."""
    if len(text) < 3 or text[2].isalnum() or text[2] in " \r\n":
        return None
    segment = "~" if "~" in text else "\n"
    return Delimiters(element=text[2], segment=segment)


def split_segments(text: str, delimiters: Delimiters) -> list[Segment]:
    """Every non-blank segment, numbered from 1 in file order (line endings around terminators
    are ignored)."""
    element = delimiters.element
    segments: list[Segment] = []
    append = segments.append
    position = 0
    for chunk in text.split(delimiters.segment):
        chunk = chunk.strip()
        if chunk:
            position += 1
            append(Segment(chunk.split(element), position))
    return segments


def read_interchange(data: bytes | str) -> ReadResult:
    """Read any X12 file; never raises. See `ReadResult` and `Defect`."""
    try:
        return _read(data)
    except Exception as exc:  # a last guard: a reader bug must come back as a defect, not a crash
        return ReadResult([], [], [Defect(0, "", "reader.internal", f"the reader failed: {type(exc).__name__}: {exc}")],
                          None)


def _read(data: bytes | str) -> ReadResult:
    from praxis.formats.x12.envelope import walk_envelopes

    # X12's character sets are single-byte; latin-1 maps every byte, so decoding cannot fail.
    text = bytes(data).decode("latin-1") if not isinstance(data, str) else data
    text = text.lstrip("\ufeff\xef\xbb\xbf \t\r\n\x00")
    defects: list[Defect] = []
    if not text:
        return ReadResult([], [], [Defect(0, "", "file.empty", "the file is empty")], None)
    if text.startswith("ISA"):
        delimiters = _delimiters_from_isa(text, defects)
    else:
        delimiters = _guess_delimiters(text) if text[:2] in ("ST", "GS") else None
        if delimiters is None:
            return ReadResult([], [], [Defect(1, "", "isa.missing",
                                              "not an X12 interchange: the file does not start with ISA")], None)
        defects.append(Defect(1, text[:2], "isa.missing",
                              "the file does not start with an ISA segment (no interchange envelope)"))
    if delimiters is None:
        return ReadResult([], [], defects, None)
    segments = split_segments(text, delimiters)
    interchanges = walk_envelopes(segments, delimiters, defects)
    return ReadResult(interchanges, segments, defects, delimiters)
