"""RPM device data: idempotent readings, day counts, data days per 30-day period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from praxis.care import rpm
from praxis.care.rpm import ReadingIn
from praxis.platform.errors import Conflict, NotFound, ValidationProblem

from .helpers import at, enrol, make_world, new_patient


@pytest.fixture
def episode(org):
    w = make_world(org)
    pid = new_patient(w.ctx, org.loc_a.id, chronic=1)
    return w, enrol(w, pid, "rpm", start=date(2025, 3, 1))


def test_readings_are_idempotent_by_reading_id(episode):
    w, e = episode
    batch = [ReadingIn(reading_id=f"r{i}", enrolment_id=e.id, measured_at=at(2025, 3, 1 + i // 2)) for i in range(10)]
    assert rpm.post_readings(w.ctx, batch) == rpm.PostResult(accepted=10, duplicates=0)
    assert rpm.post_readings(w.ctx, batch) == rpm.PostResult(accepted=0, duplicates=10)
    # 10 readings on 5 distinct days of the period 2025-03-01..03-30
    assert rpm.data_days(w.ctx, e.id, date(2025, 3, 15)) == (date(2025, 3, 1), date(2025, 3, 30), 5)
    assert rpm.data_days(w.ctx, e.id, date(2025, 3, 31))[2] == 0  # the next period


def test_a_bad_row_stores_nothing_and_names_its_position(episode):
    w, e = episode
    batch = [ReadingIn(reading_id="ok", enrolment_id=e.id, measured_at=at(2025, 3, 2)),
             ReadingIn(reading_id="early", enrolment_id=e.id, measured_at=at(2025, 2, 2))]
    with pytest.raises(ValidationProblem) as exc:
        rpm.post_readings(w.ctx, batch)
    assert exc.value.field == "readings[1].measured_at"
    assert rpm.data_days(w.ctx, e.id, date(2025, 3, 2))[2] == 0


def test_day_counts(episode):
    w, e = episode
    with pytest.raises(ValidationProblem) as exc:
        rpm.post_day_count(w.ctx, e.id, count_id="c1", period_start=date(2025, 3, 2), days=18)
    assert exc.value.field == "period_start"
    rpm.post_day_count(w.ctx, e.id, count_id="c1", period_start=date(2025, 3, 31), days=18)
    rpm.post_day_count(w.ctx, e.id, count_id="c1", period_start=date(2025, 3, 31), days=18)  # retry: same
    with pytest.raises(Conflict):
        rpm.post_day_count(w.ctx, e.id, count_id="c1", period_start=date(2025, 3, 31), days=3)
    assert rpm.data_days(w.ctx, e.id, date(2025, 3, 31) + timedelta(days=3))[2] == 18


def test_only_rpm_enrolments_of_the_org(episode, other_org):
    w, e = episode
    ccm = enrol(w, new_patient(w.ctx, w.org.loc_a.id), "ccm", start=date(2025, 3, 1))
    with pytest.raises(ValidationProblem) as exc:
        rpm.post_readings(w.ctx, [ReadingIn(reading_id="x", enrolment_id=ccm.id, measured_at=at(2025, 3, 2))])
    assert exc.value.field == "readings[0].enrolment_id"
    w2 = make_world(other_org)
    with pytest.raises(ValidationProblem) as exc:
        rpm.post_readings(w2.ctx, [ReadingIn(reading_id="x", enrolment_id=e.id, measured_at=at(2025, 3, 2))])
    assert exc.value.errors[0]["detail"] == "No such enrolment"
    with pytest.raises(NotFound):
        rpm.post_day_count(w2.ctx, e.id, count_id="c", period_start=date(2025, 3, 1), days=3)
