"""HL7 v2 SIU inbound over MLLP: the corpus S12/S13/S14/S15/S26 files applied through scheduling.

The corpus samples are from 2021, so each test moves the app clock to the sample's own date
(MSH-7) before the world is set up; the sender's personnel id (AIP-3.1) is mapped to our
provider in the facility map, as an interface engine's configuration would.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from praxis.formats.hl7v2 import Message, mllp_frame, parse_message
from praxis.interop.hl7.inbound import Route
from praxis.interop.hl7.listener import start_server
from praxis.interop.hl7.models import Hl7AppointmentLink, Hl7Message
from praxis.patients.models import Patient
from praxis.platform import clock
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.scheduling import setup
from praxis.scheduling.models import Appointment

CORPUS = Path("/work/shared/corpus/hl7v2/siu")
pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
ALL_DAY = [{"weekday": w, "start_minute": 0, "end_minute": 24 * 60} for w in range(7)]


def sample(name: str, control_id: str | None = None, **replace: str) -> bytes:
    text = (CORPUS / name).read_text().replace("\r\n", "\r").replace("\n", "\r")
    if control_id:
        msg = parse_message(text)
        text = text.replace(f"|{msg.control_id}|", f"|{control_id}|", 1)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


def set_clock(at: datetime) -> None:
    clock.reset()
    clock.advance(at - clock.now())


@dataclass
class Clinic:
    org: Any
    provider_id: uuid.UUID
    npi_provider_id: uuid.UUID
    route: Route


def make_clinic(org: Any, personnel: str) -> Clinic:
    """A provider (mapped from the sender's AIP-3.1 `personnel`) and one with an NPI, working all day
    at loc_a, and the visit types the samples name (AIS-3.1 76164006, SCH-7.1 CHECKUP)."""
    ctx = system_context(org.id, "test")
    p = setup.create_provider(ctx, first_name="Robert", last_name="Gastro", location_ids=[org.loc_a.id])
    n = setup.create_provider(ctx, first_name="Nora", last_name="Npi", npi="1234567893", location_ids=[org.loc_a.id])
    for pid in (p.id, n.id):
        setup.create_template(ctx, provider_id=pid, location_id=org.loc_a.id,
                              effective_from=clock.now().date() - timedelta(days=1), effective_to=None,
                              blocks=ALL_DAY)
    setup.create_visit_type(ctx, code="76164006", name="Colon biopsy", duration_minutes=50)
    setup.create_visit_type(ctx, code="CHECKUP", name="Annual checkup", duration_minutes=60)
    route = Route(org.id, org.loc_a.id, {"providers": {personnel: str(p.id)}})
    return Clinic(org, p.id, n.id, route)


async def _exchange(route: Route, blocks: list[bytes]) -> list[Message]:
    server = await start_server("127.0.0.1", 0, {"GHHSFacility": route})
    port = server.sockets[0].getsockname()[1]
    acks: list[Message] = []
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for block in blocks:
            writer.write(mllp_frame(block))
            await writer.drain()
            data = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 30)
            acks.append(parse_message(data[1:-2]))
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    return acks


def send(clinic: Clinic, *blocks: bytes) -> list[Message]:
    return asyncio.run(_exchange(clinic.route, list(blocks)))


def appointments(org: Any) -> list[Appointment]:
    with session_scope(org.id) as s:
        rows = list(s.scalars(select(Appointment).where(Appointment.org_id == org.id)
                              .order_by(Appointment.created_at)))
        s.expunge_all()
        return rows


def count(org: Any, model: Any) -> int:
    with session_scope(org.id) as s:
        return len(s.scalars(select(model.id).where(model.org_id == org.id)).all())


def codes(*acks: Message) -> list[str]:
    return [a.get("MSA-1") for a in acks]


def test_s12_books_then_s13_s14_and_s26_apply_to_the_same_appointment(org: Any) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))  # S12-01's MSH-7
    clinic = make_clinic(org, "1210")
    (booked,) = send(clinic, sample("fc_SIU-S12-01.hl7"))
    assert codes(booked) == ["AA"], booked.encode()
    (appt,) = appointments(org)
    assert appt.start_at == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)  # 09:30 +02:15
    assert (appt.provider_id, appt.location_id, appt.status, appt.source) == (
        clinic.provider_id, org.loc_a.id, "booked", "hl7")
    assert appt.end_at - appt.start_at == timedelta(minutes=50)
    with session_scope(org.id) as s:
        patient = s.scalars(select(Patient).where(Patient.id == appt.patient_id)).one()
        assert (patient.last_name, patient.first_name) == ("EVERYMAN", "ADAM")
        links = {(r.kind, r.external_id) for r in s.scalars(select(Hl7AppointmentLink).where(
            Hl7AppointmentLink.org_id == org.id))}
    assert links == {("placer", "12345"), ("filler", "36996")}

    # The same S12 again (same control id): the stored ACK, nothing applied twice.
    (again,) = send(clinic, sample("fc_SIU-S12-01.hl7"))
    assert again.encode() == booked.encode()
    # S13-01 names the same time and S14-01 only relabels the room: AA, nothing moves.
    resched, modified = send(clinic, sample("fc_SIU-S13-01.hl7"), sample("fc_SIU-S14-01.hl7"))
    assert codes(resched, modified) == ["AA", "AA"]
    (same,) = appointments(org)
    assert (same.id, same.start_at, same.version) == (appt.id, appt.start_at, appt.version)

    set_clock(datetime(2021, 9, 24, 8, 0, tzinfo=UTC))  # S26-01's MSH-7: after the start
    (noshow,) = send(clinic, sample("fc_SIU-S26-01.hl7"))
    assert codes(noshow) == ["AA"], noshow.encode()
    (after,) = appointments(org)
    assert after.status == "no_show" and after.id == appt.id
    assert count(org, Patient) == 1
    assert [r.status for r in _stored(org)] == ["processed"] * 4


def _stored(org: Any) -> list[Hl7Message]:
    with session_scope(org.id) as s:
        rows = list(s.scalars(select(Hl7Message).where(Hl7Message.org_id == org.id)
                              .order_by(Hl7Message.received_at)))
        s.expunge_all()
        return rows


def test_s12_with_resource_groups_then_s13_moves_and_s15_cancels(org: Any) -> None:
    set_clock(datetime(2021, 8, 10, 9, 15, tzinfo=UTC))  # S12-02's MSH-7
    clinic = make_clinic(org, "600")  # the GP of the third resource group
    (booked,) = send(clinic, sample("fc_SIU-S12-02.hl7"))
    assert codes(booked) == ["AA"], booked.encode()
    (appt,) = appointments(org)
    assert appt.start_at == datetime(2021, 8, 18, 9, 15, tzinfo=UTC)
    assert appt.provider_id == clinic.provider_id
    assert appt.end_at - appt.start_at == timedelta(minutes=60)  # CHECKUP (SCH-7.1)

    (moved,) = send(clinic, sample("fc_SIU-S13-02.hl7"))
    assert codes(moved) == ["AA"], moved.encode()
    (after,) = appointments(org)
    assert after.id == appt.id and after.start_at == datetime(2021, 8, 20, 9, 15, tzinfo=UTC)
    assert after.status == "booked"

    (cancelled,) = send(clinic, sample("fc_SIU-S15-02.hl7"))
    assert codes(cancelled) == ["AA"], cancelled.encode()
    (final,) = appointments(org)
    assert final.status == "cancelled" and "GP is not available" in (final.cancel_reason or "")


def test_s15_cancels_the_booked_appointment_and_a_resent_s15_is_applied_once(org: Any) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    booked, cancelled, again = send(clinic, sample("fc_SIU-S12-01.hl7"), sample("fc_SIU-S15-01.hl7"),
                                    sample("fc_SIU-S15-01.hl7"))
    assert codes(booked, cancelled) == ["AA", "AA"]
    assert again.encode() == cancelled.encode()
    (appt,) = appointments(org)
    assert appt.status == "cancelled" and appt.version == 2


def test_double_booking_is_ae_naming_the_reason_and_changes_nothing(org: Any) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    (first,) = send(clinic, sample("fc_SIU-S12-01.hl7"))
    assert codes(first) == ["AA"]
    # Another patient, another appointment id, the same provider and time.
    other = sample("fc_SIU-S12-01.hl7", "MSG-OTHER", **{"SCH|12345|36996|": "SCH|777|888|",
                                                        "PATID1234^5": "PATID9999^5", "EVERYMAN&": "OTHERMAN&"})
    (ack,) = send(clinic, other)
    assert ack.get("MSA-1") == "AE"
    assert ack.get("ERR-3.1") == "206" and "already booked" in ack.get("ERR-8")
    assert ack.get("ERR-2.1") == "AIS" and ack.get("ERR-2.3") == "4"  # the start came from AIS-4
    assert len(appointments(org)) == 1
    assert count(org, Patient) == 1  # the new patient's registration was rolled back with the booking
    assert count(org, Hl7AppointmentLink) == 2
    assert [r.status for r in _stored(org)] == ["processed", "failed"]


CHECKUP_AIS = {"76164006^Biopsy of colon (procedure)^SCT^1212^Biopsy": "CHECKUP^Annual checkup^L"}


def errs(ack: Message) -> list[tuple[str, str, str, str]]:
    """Each ERR of an ACK: (code, segment, field, severity)."""
    return [(e.value(3, 1), e.value(2, 1), e.value(2, 3), e.value(4)) for e in ack.segments if e.name == "ERR"]


def test_s14_with_another_visit_type_changes_it_and_its_length(org: Any) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    (booked,) = send(clinic, sample("fc_SIU-S12-01.hl7"))
    assert codes(booked) == ["AA"], booked.encode()
    (appt,) = appointments(org)
    assert appt.end_at - appt.start_at == timedelta(minutes=50)  # Colon biopsy
    (ack,) = send(clinic, sample("fc_SIU-S14-01.hl7", **CHECKUP_AIS))
    assert ack.get("MSA-1") == "AA", ack.encode()
    # AIS-7 still says 50 minutes; our length is the visit type's: a warning, not a change.
    assert errs(ack) == [("102", "AIS", "7", "W")] and "(60 min)" in ack.get("ERR-8")
    (after,) = appointments(org)
    assert (after.id, after.start_at, after.provider_id) == (appt.id, appt.start_at, appt.provider_id)
    assert after.end_at - after.start_at == timedelta(minutes=60) and after.version == appt.version + 1
    assert after.status == "booked"
    with session_scope(org.id) as s:
        from praxis.platform.audit import AuditRecord
        from praxis.scheduling.models import VisitType

        code = s.scalars(select(VisitType.code).where(VisitType.id == after.visit_type_id)).one()
        actor = s.scalars(select(AuditRecord.actor_name).where(
            AuditRecord.org_id == org.id, AuditRecord.action == "appointment.change_visit_type")).one()
    assert code == "CHECKUP" and actor.startswith("hl7:") and actor.endswith("|GHHSFacility")
    # The same S14 once more (a new control id): nothing differs, AA "no change" (MSA-3 is empty in
    # v2.8; the outcome is in the message log), and the warning stays.
    (again,) = send(clinic, sample("fc_SIU-S14-01.hl7", "MSG-S14-AGAIN", **CHECKUP_AIS))
    assert again.get("MSA-1") == "AA" and errs(again) == [("102", "AIS", "7", "W")]
    assert appointments(org)[0].version == after.version


def test_s14_visit_type_that_would_double_book_is_ae_naming_ais_3_and_changes_nothing(org: Any) -> None:
    from praxis.scheduling import service
    from tests.integration.scheduling.helpers import make_patient

    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    (booked,) = send(clinic, sample("fc_SIU-S12-01.hl7"))
    assert codes(booked) == ["AA"], booked.encode()
    (appt,) = appointments(org)
    checkup = next(v.id for v in setup.list_visit_types(system_context(org.id, "test")) if v.code == "CHECKUP")
    # Booked here right after the 50-minute biopsy: the 60-minute checkup would overlap it.
    service.book(system_context(org.id, "test"), patient_id=make_patient(org), visit_type_id=checkup,
                 provider_id=clinic.provider_id, location_id=org.loc_a.id, start_at=appt.end_at)
    (ack,) = send(clinic, sample("fc_SIU-S14-01.hl7", **CHECKUP_AIS))
    assert ack.get("MSA-1") == "AE", ack.encode()
    assert errs(ack)[0] == ("206", "AIS", "3", "E")
    assert "CHECKUP" in ack.get("ERR-8") and "already booked" in ack.get("ERR-8")
    (after, _other) = appointments(org)
    assert (after.visit_type_id, after.end_at, after.version) == (appt.visit_type_id, appt.end_at, appt.version)
    assert [r.status for r in _stored(org)] == ["processed", "failed"]


def test_s13_moving_with_a_visit_type_unknown_here_moves_and_warns(org: Any) -> None:
    set_clock(datetime(2021, 8, 10, 9, 15, tzinfo=UTC))
    clinic = make_clinic(org, "600")
    (booked,) = send(clinic, sample("fc_SIU-S12-02.hl7"))
    assert codes(booked) == ["AA"], booked.encode()
    (appt,) = appointments(org)
    # SCH-7.1 names the visit type in this sample (no AIS-3.1 in the chosen group).
    (moved,) = send(clinic, sample("fc_SIU-S13-02.hl7", **{"|Add|CHECKUP|": "|Add|NOTOURS|"}))
    assert moved.get("MSA-1") == "AA", moved.encode()
    assert ("103", "SCH", "7", "W") in errs(moved)
    (after,) = appointments(org)
    assert after.start_at == datetime(2021, 8, 20, 9, 15, tzinfo=UTC) and after.visit_type_id == appt.visit_type_id


def test_provider_is_matched_by_npi(org: Any) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "nobody")
    block = sample("fc_SIU-S12-01.hl7", **{"AIP|001||1210^GE^Robert^C|": "AIP|001||1234567893^NPI^Nora^^^^^^^^^^NPI|"})
    (ack,) = send(clinic, block)
    assert codes(ack) == ["AA"], ack.encode()
    (appt,) = appointments(org)
    assert appt.provider_id == clinic.npi_provider_id


@pytest.mark.parametrize(
    ("replace", "code", "err_code", "where"),
    [
        ({"SCH|12345|36996|": "SCH|||"}, "AE", "101", ("SCH", "2")),
        ({"20210924093000+0215|||50": "2021-09-24|||50"}, "AE", "102", ("AIS", "4")),
        ({"AIP|001||1210^": "AIP|001||9999^"}, "AE", "204", ("AIP", "3")),
        ({"76164006^Biopsy": "XX999^Biopsy", "|EMERGENCY|": "|UNKNOWN|"}, "AE", "103", ("AIS", "3")),
        ({"EVERYMAN&&&&Aniston^ADAM": "EVERYMAN&&&&Aniston^"}, "AE", "101", ("PID", "5")),
        ({"SIU^S12^SIU_S12": "SIU^S17^SIU_S17"}, "AR", "201", ("MSH", "9")),
    ],
)
def test_malformed_s12_is_refused_with_a_reason_and_changes_nothing(org: Any, replace: dict[str, str], code: str,
                                                                     err_code: str, where: tuple[str, str]) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    (ack,) = send(clinic, sample("fc_SIU-S12-01.hl7", f"BAD{secrets.token_hex(3)}", **replace))
    assert ack.get("MSA-1") == code, ack.encode()
    assert ack.get("ERR-3.1") == err_code, ack.encode()
    assert (ack.get("ERR-2.1"), ack.get("ERR-2.3")) == where
    assert appointments(org) == [] and count(org, Patient) == 0 and count(org, Hl7AppointmentLink) == 0


def test_s13_for_an_unknown_appointment_is_ae_204(org: Any) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    (ack,) = send(clinic, sample("fc_SIU-S13-01.hl7"))
    assert (ack.get("MSA-1"), ack.get("ERR-3.1"), ack.get("ERR-2.1"), ack.get("ERR-2.3")) == ("AE", "204", "SCH", "2")
    assert appointments(org) == []


def test_s26_before_the_start_is_ae_and_leaves_the_appointment_booked(org: Any) -> None:
    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    booked, noshow = send(clinic, sample("fc_SIU-S12-01.hl7"), sample("fc_SIU-S26-01.hl7"))
    assert codes(booked, noshow) == ["AA", "AE"]
    assert "before the appointment's start" in noshow.get("ERR-8")
    assert appointments(org)[0].status == "booked"


def test_hl7_timestamps_read_with_their_offset_or_the_location_zone() -> None:
    from zoneinfo import ZoneInfo

    from praxis.interop.hl7.siu import parse_dtm

    assert parse_dtm("20210924093000+0215", "UTC") == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)
    assert parse_dtm("202109240930", "America/New_York") == datetime(2021, 9, 24, 9, 30,
                                                                     tzinfo=ZoneInfo("America/New_York"))
    assert parse_dtm("20210924093000.1234-0500", "UTC") == datetime(2021, 9, 24, 14, 30, tzinfo=UTC)
    assert parse_dtm("2021-09-24", "UTC") is None
    assert parse_dtm("20211324", "UTC") is None
