"""HL7 v2 codec: the corpus parses, what we write parses under hl7apy, garbage raises only HL7ParseError."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message as Hl7apyMessage
from hl7apy.parser import get_message_info, parse_segments
from hypothesis import example, given, settings
from hypothesis import strategies as st

from praxis.formats.hl7v2 import (
    AckError,
    HL7ParseError,
    MllpDecoder,
    Repeat,
    Separators,
    build_ack,
    build_message,
    escape,
    mllp_frame,
    parse_message,
    split_batch,
    unescape,
)

CORPUS = Path("/work/shared/corpus/hl7v2")
FILES = sorted(CORPUS.glob("*/*.hl7"))
AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def hl7apy_strict(text: str, structure: str):
    """hl7apy's strict parse with the structure given (v2.3 messages carry no MSH-9.3)."""
    encoding, _, version = get_message_info(text)
    msg = Hl7apyMessage(structure, version=version, validation_level=VALIDATION_LEVEL.STRICT, encoding_chars=encoding)
    msg.children = parse_segments(text, version, encoding, VALIDATION_LEVEL.STRICT, msg.reference, True)
    return msg


def _one(path: str) -> str:
    return split_batch((CORPUS / path).read_bytes())[0]


@pytest.mark.skipif(not FILES, reason="shared corpus not present")
@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_message_parses(path: Path) -> None:
    messages = split_batch(path.read_bytes())
    assert messages
    for text in messages:
        msg = parse_message(text)
        assert msg.msh.name == "MSH"
        assert msg.message_type in {"ADT", "SIU", "DFT", "BAR", "ORU"}
        assert msg.trigger_event
        assert msg.control_id
        assert msg.version.startswith("2.")
        # Round trip: what we parsed encodes back to the same segments.
        assert parse_message(msg.encode()).encode() == msg.encode()


def test_spot_checks_adt_a04() -> None:
    msg = parse_message(_one("adt_a04/fc_ADT-A04-01.hl7"))
    assert (msg.message_type, msg.trigger_event, msg.structure) == ("ADT", "A04", "ADT_A04")
    assert msg.control_id == "MSG00001"
    assert msg.version == "2.8"
    assert msg.sending_application == "ADTApp"
    assert msg.sending_facility == "GHHSFacility"
    assert msg.msh.value(4, 2) == "2.16.840.1.122848.1.30"
    pid = msg.segment("PID")
    assert pid is not None
    # PID-3 repeats: an MR and an SSN.
    assert pid.value(3, 1) == "PATID1234"
    assert pid.value(3, 5) == "MR"
    assert pid.value(3, 1, repetition=1) == "123456789"
    assert pid.value(3, 4, repetition=1) == "USSSA"
    # Subcomponents: PID-3.4 is test1&2.16.1&HCD.
    assert pid.value(3, 4, 2) == "2.16.1"
    assert msg.get("PID-3(1).5") == "SS"
    assert msg.get("PID-5.1") == "EVERYMAN"
    assert msg.get("PID-5.2") == "ADAM"
    assert msg.get("PID-5.1.5") == "Aniston"
    assert msg.get("PID-7").startswith("19")
    assert msg.get("ZZZ-1") == ""
    assert pid.value(99) == ""


def test_spot_checks_a40_mrg_and_old_versions() -> None:
    msg = parse_message(_one("adt_a40/fc_ADT-A40-01.hl7"))
    assert msg.trigger_event == "A40"
    assert msg.get("MRG-1.1") == "56789"
    assert msg.get("PID-3.1") == "12345"
    assert msg.get("PID-8") == "F"
    old = parse_message(_one("adt_a04/fc_ADT04-251.hl7"))  # v2.3, starts with a BOM
    assert old.version == "2.3"
    assert old.get("PID-3.1") == "MRN12345"


def test_batch_file_splits_into_messages() -> None:
    messages = split_batch((CORPUS / "adt_a04/pyhl7_sample_batch_ADT_A04.hl7").read_bytes())
    parsed = [parse_message(m) for m in messages]
    assert all(m.trigger_event == "A04" for m in parsed)
    assert parsed[0].structure == "ADT_A01"


def test_custom_separators_come_from_msh() -> None:
    text = "MSH*:#!@*APP*FAC*R*RF*20260101**ADT:A04*C1*P*2.5\rPID*1**X1#X2**Fam:Giv@sub!F!x\r"
    msg = parse_message(text)
    assert msg.seps == Separators("*", ":", "#", "!", "@")
    assert msg.get("PID-3(1).1") == "X2"
    assert msg.get("PID-5.2.1") == "Giv"
    assert msg.get("PID-5.2.2") == "sub*x"
    assert msg.trigger_event == "A04"


def test_header_values_follow_a_replaced_msh() -> None:
    # The MSH values are kept once read; a message whose MSH is replaced answers with the new one.
    msg = parse_message("MSH|^~\\&|APP|FAC|R|RF|20260101||ADT^A04|C1|P|2.5\rPID|1||X1\r")
    assert (msg.message_type, msg.trigger_event, msg.control_id, msg.sending_facility) == ("ADT", "A04", "C1", "FAC")
    assert msg.trigger_event == "A04"  # read again, from what was kept
    other = parse_message("MSH|^~\\&|APP2|FAC2|R|RF|20260101||ADT^A08|C2|P|2.5\r")
    msg.segments[0] = other.segments[0]
    assert (msg.sending_application, msg.sending_facility, msg.trigger_event, msg.control_id) == (
        "APP2", "FAC2", "A08", "C2")


def test_escapes_round_trip() -> None:
    seps = Separators()
    value = "A|B^C~D\\E&F\nG"
    assert unescape(escape(value, seps), seps) == value
    assert unescape(r"x\X41\y\H\z\N\\.br\w\Q\end", seps) == "xAyz\nw\\Q\\end"
    assert unescape("no end \\F", seps) == "no end \\F"


def test_writer_escapes_and_round_trips() -> None:
    text = build_message(
        [
            (
                "MSH",
                [
                    "PRAXIS",
                    "CLINIC",
                    "EHR",
                    "HOSP",
                    "20261207090000+0000",
                    None,
                    ["ADT", "A04", "ADT_A01"],
                    "C1",
                    "P",
                    "2.5",
                ],
            ),
            ("EVN", ["A04", "20261207090000+0000"]),
            (
                "PID",
                [
                    "1",
                    None,
                    Repeat((["P1", None, None, "PRAXIS", "MR"], ["999", None, None, "SSA", "SS"])),
                    None,
                    ["O'Brien|Smith", "Ann^Marie"],
                    None,
                    "19800102",
                    "F",
                ],
            ),
            ("PV1", ["1", "O"]),
        ]
    )
    msg = parse_message(text)
    assert msg.get("PID-5.1") == "O'Brien|Smith"
    assert msg.get("PID-5.2") == "Ann^Marie"
    assert msg.get("PID-3(1).1") == "999"
    parsed = hl7apy_strict(text, "ADT_A01")
    assert parsed.name == "ADT_A01"
    assert parsed.validate()
    assert parsed.pid.pid_5.xpn_1.fn_1.to_er7() == r"O'Brien\F\Smith"


@pytest.mark.parametrize(
    ("code", "errors"),
    [
        ("AA", []),
        ("AE", [AckError("101", "PID-5 family name is required", "PID", 1, 5, 1)]),
        ("AR", [AckError("201", "event A99 is not supported", "MSH", 1, 9, 2)]),
    ],
)
@pytest.mark.parametrize(
    "path", ["adt_a04/fc_ADT-A04-02.hl7", "adt_a01/herophilus_ADT_A01.hl7", "adt_a04/fc_ADT04-251.hl7"]
)
def test_ack_parses_under_hl7apy(code: str, errors: list[AckError], path: str) -> None:
    original = parse_message(_one(path))
    ack = build_ack(original, code, control_id="ACK-1", at=AT, text="see ERR", errors=errors)
    mine = parse_message(ack)
    assert mine.get("MSA-1") == code
    assert mine.get("MSA-2") == original.control_id
    assert mine.get("MSH-5") == original.sending_application
    assert mine.get("MSH-3") == original.msh.value(5)
    assert mine.get("MSH-9.1") == "ACK"
    assert mine.get("MSH-9.2") == original.trigger_event
    theirs = hl7apy_strict(ack, "ACK")
    assert theirs.name == "ACK"
    assert theirs.validate()
    assert theirs.msa.msa_1.value == code
    if errors:
        err = mine.segment("ERR")
        assert err is not None
        if original.version[:3] >= "2.5":
            assert err.value(2, 1) == errors[0].segment
            assert err.value(2, 3) == str(errors[0].field)
            assert err.value(3, 1) == errors[0].code
            assert err.value(8) == errors[0].text
        else:
            assert err.value(1, 1) == errors[0].segment
            assert err.value(1, 3) == str(errors[0].field)


def test_mllp_decoder_reassembles_split_frames() -> None:
    one, two = mllp_frame("MSH|^~\\&|A\r"), mllp_frame("MSH|^~\\&|B\r")
    stream = b"noise" + one + two
    decoder = MllpDecoder()
    got: list[bytes] = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert got == [b"MSH|^~\\&|A\r", b"MSH|^~\\&|B\r"]
    small = MllpDecoder(max_size=10)
    with pytest.raises(ValueError, match="maximum size"):
        small.feed(b"\x0b" + b"x" * 20)


@pytest.mark.parametrize(
    "text",
    ["", "PID|1", "MSH", "MSH|", "MSH|^~", "MSH|^^\\&|", "MSHa^~\\&|", "MSH|^~\\&|A|B|C|D|E||", "MSH|^~\\&\rpid|1"],
)
def test_malformed_raises_typed_error(text: str) -> None:
    with pytest.raises(HL7ParseError):
        parse_message(text)


_CHARS = st.sampled_from(list("MSHPIDEVN|^~\\&\r\n#0129AZ az\x0b\x1c")) | st.characters()
_HL7ISH = st.text(alphabet=_CHARS, max_size=300)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_HL7ISH, st.builds(lambda s: "MSH|^~\\&|" + s, _HL7ISH), st.binary(max_size=200)))
def test_garbage_raises_only_hl7_parse_error(data: str | bytes) -> None:
    try:
        msg = parse_message(data)
    except HL7ParseError:
        return
    # Whatever parsed must answer every lookup without raising.
    for seg in msg.segments:
        for n in range(1, len(seg) + 2):
            seg.value(n, 1, 1)
            seg.value(n, 2, 2, 1)
    assert isinstance(msg.encode(), str)
    assert isinstance(msg.control_id, str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=50))
@example("line one\r\nline two")  # a CR LF pair once came back as LF alone
def test_escape_round_trips_any_text(value: str) -> None:
    seps = Separators()
    assert unescape(escape(value, seps), seps) == value
