"""The billing engine, table-driven. Expected codes are written by hand from
/work/shared/reference/care-management-rules.md (section 3 test cases, then every threshold
edge: one minute under, exactly at, one over), never computed by the engine."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from praxis.care import rules
from praxis.care.rules import EngineSettings, MonthInput, bill_month, few_minutes_short

Y2026 = date(2026, 3, 1)
Y2025 = date(2025, 3, 1)


def one(program: str, cs: int = 0, phy: int = 0, *, on: date = Y2026, settings: EngineSettings | None = None,
        **kw: object) -> rules.MonthResult:
    m = MonthInput(key="e", patient="p", practitioner="A", program=program, staff_minutes=cs,
                   practitioner_minutes=phy, **kw)  # type: ignore[arg-type]
    return bill_month([m], on, settings)[0]


# The reference's own cases (section 3), ids as there.
REFERENCE = [
    (1, "ccm", 19, 0, {}, {}),
    (2, "ccm", 39, 0, {}, {"99490": 1}),
    (3, "ccm", 85, 0, {}, {"99490": 1, "99439": 2}),
    (4, "ccm", 0, 30, {}, {"99491": 1}),
    (5, "ccm", 5, 62, {}, {"99491": 1, "99437": 1}),
    (6, "ccm", 15, 10, {}, {"99490": 1}),
    (7, "ccm", 59, 0, {"complex": True}, {"99490": 1, "99439": 1}),
    (8, "ccm", 95, 0, {"complex": True}, {"99487": 1, "99489": 1}),
    (9, "pcm", 65, 0, {}, {"99426": 1, "99427": 1}),
    (11, "rpm", 45, 0, {"interactive": True, "device_days": (18,), "setup_billed": True},
     {"99454": 1, "99457": 1, "99458": 1}),
    (12, "rpm", 12, 0, {"interactive": True, "device_days": (10,), "setup_billed": True},
     {"99445": 1, "99470": 1}),
]


@pytest.mark.parametrize(("case", "program", "cs", "phy", "flags", "expect"), REFERENCE,
                         ids=[f"ref{c[0]}" for c in REFERENCE])
def test_reference_cases(case, program, cs, phy, flags, expect):
    assert one(program, cs, phy, **flags).codes == expect


def test_ref10_ccm_and_pcm_same_practitioner_is_an_error():
    ms = [MonthInput("ccm", "p", "A", "ccm", staff_minutes=25), MonthInput("pcm", "p", "A", "pcm", staff_minutes=35)]
    out = bill_month(ms, Y2026)
    assert [r.codes for r in out] == [{}, {}]
    assert [r.error for r in out] == [rules.CCM_PCM_SAME_PRACTITIONER] * 2


def test_ref12a_no_consent():
    r = one("ccm", 45, consent=False)
    assert r.codes == {} and rules.NO_CONSENT in r.reasons


def test_ref12b_ccm_and_pcm_by_different_practitioners():
    # Reference tag [2°]: allowed in the summaries; the issue refuses only the same practitioner.
    ms = [MonthInput("ccm", "p", "A", "ccm", staff_minutes=30), MonthInput("pcm", "p", "B", "pcm", staff_minutes=30)]
    assert [r.codes for r in bill_month(ms, Y2026)] == [{"99490": 1}, {"99426": 1}]


def test_ref12c_ccm_and_rpm_minutes_each_once():
    ms = [MonthInput("ccm", "p", "A", "ccm", staff_minutes=20),
          MonthInput("rpm", "p", "A", "rpm", staff_minutes=20, interactive=True)]
    assert [r.codes for r in bill_month(ms, Y2026)] == [{"99490": 1}, {"99457": 1}]


# Every threshold edge: (program, cs, phy, flags, expected codes).
EDGES = [
    # 99490 at 20, 99439 per further full 20, at most 2
    ("ccm", 19, 0, {}, {}),
    ("ccm", 20, 0, {}, {"99490": 1}),
    ("ccm", 21, 0, {}, {"99490": 1}),
    ("ccm", 39, 0, {}, {"99490": 1}),
    ("ccm", 40, 0, {}, {"99490": 1, "99439": 1}),
    ("ccm", 41, 0, {}, {"99490": 1, "99439": 1}),
    ("ccm", 59, 0, {}, {"99490": 1, "99439": 1}),
    ("ccm", 60, 0, {}, {"99490": 1, "99439": 2}),
    ("ccm", 61, 0, {}, {"99490": 1, "99439": 2}),
    ("ccm", 80, 0, {}, {"99490": 1, "99439": 2}),  # cap: a third 99439 never
    ("ccm", 200, 0, {}, {"99490": 1, "99439": 2}),
    # 99491 at 30 personally (staff under 20), 99437 per further 30
    ("ccm", 0, 29, {}, {"99490": 1}),  # practitioner under 30 pools into staff time: 29 >= 20
    ("ccm", 0, 19, {}, {}),
    ("ccm", 0, 30, {}, {"99491": 1}),
    ("ccm", 0, 31, {}, {"99491": 1}),
    ("ccm", 0, 59, {}, {"99491": 1}),
    ("ccm", 0, 60, {}, {"99491": 1, "99437": 1}),
    ("ccm", 0, 61, {}, {"99491": 1, "99437": 1}),
    ("ccm", 0, 90, {}, {"99491": 1, "99437": 2}),
    ("ccm", 19, 30, {}, {"99491": 1}),  # staff 19 < 20: practitioner lane, staff minutes unbilled
    ("ccm", 20, 30, {}, {"99490": 1, "99439": 1}),  # staff reach 20: pooled 50
    # complex 99487 at 60 (flagged), 99489 per further 30
    ("ccm", 59, 0, {"complex": True}, {"99490": 1, "99439": 1}),
    ("ccm", 60, 0, {"complex": True}, {"99487": 1}),
    ("ccm", 61, 0, {"complex": True}, {"99487": 1}),
    ("ccm", 89, 0, {"complex": True}, {"99487": 1}),
    ("ccm", 90, 0, {"complex": True}, {"99487": 1, "99489": 1}),
    ("ccm", 91, 0, {"complex": True}, {"99487": 1, "99489": 1}),
    ("ccm", 150, 0, {"complex": True}, {"99487": 1, "99489": 3}),  # no cap found
    ("ccm", 95, 0, {}, {"99490": 1, "99439": 2}),  # not flagged: never complex
    # complex but no care-plan establishment or substantial revision this month: non-complex CCM
    ("ccm", 60, 0, {"complex": True, "plan_revised": False}, {"99490": 1, "99439": 2}),
    ("ccm", 95, 0, {"complex": True, "plan_revised": False}, {"99490": 1, "99439": 2}),
    # PCM clinical staff 99426 at 30, 99427 per further 30
    ("pcm", 29, 0, {}, {}),
    ("pcm", 30, 0, {}, {"99426": 1}),
    ("pcm", 31, 0, {}, {"99426": 1}),
    ("pcm", 59, 0, {}, {"99426": 1}),
    ("pcm", 60, 0, {}, {"99426": 1, "99427": 1}),
    ("pcm", 61, 0, {}, {"99426": 1, "99427": 1}),
    # PCM practitioner 99424 at 30, 99425 per further 30
    ("pcm", 0, 29, {}, {}),
    ("pcm", 0, 30, {}, {"99424": 1}),
    ("pcm", 0, 31, {}, {"99424": 1}),
    ("pcm", 0, 59, {}, {"99424": 1}),
    ("pcm", 0, 60, {}, {"99424": 1, "99425": 1}),
    ("pcm", 0, 61, {}, {"99424": 1, "99425": 1}),
    ("pcm", 15, 20, {}, {"99426": 1}),  # neither reaches 30 alone: pooled 35 as staff time
    # RPM time: 99470 10-19, 99457 at 20, 99458 per further 20; interactive required
    ("rpm", 9, 0, {"interactive": True}, {}),
    ("rpm", 10, 0, {"interactive": True}, {"99470": 1}),
    ("rpm", 11, 0, {"interactive": True}, {"99470": 1}),
    ("rpm", 19, 0, {"interactive": True}, {"99470": 1}),
    ("rpm", 20, 0, {"interactive": True}, {"99457": 1}),
    ("rpm", 21, 0, {"interactive": True}, {"99457": 1}),
    ("rpm", 39, 0, {"interactive": True}, {"99457": 1}),
    ("rpm", 40, 0, {"interactive": True}, {"99457": 1, "99458": 1}),
    ("rpm", 41, 0, {"interactive": True}, {"99457": 1, "99458": 1}),
    ("rpm", 80, 0, {"interactive": True}, {"99457": 1, "99458": 3}),
    ("rpm", 10, 10, {"interactive": True}, {"99457": 1}),  # anyone's RPM time counts
    ("rpm", 45, 0, {"interactive": False}, {}),
    # RPM device days: 99445 2-15, 99454 16-30, 99453 once with the first period of 16+
    ("rpm", 0, 0, {"device_days": (1,), "setup_billed": True}, {}),
    ("rpm", 0, 0, {"device_days": (2,), "setup_billed": True}, {"99445": 1}),
    ("rpm", 0, 0, {"device_days": (3,), "setup_billed": True}, {"99445": 1}),
    ("rpm", 0, 0, {"device_days": (15,), "setup_billed": True}, {"99445": 1}),
    ("rpm", 0, 0, {"device_days": (16,), "setup_billed": True}, {"99454": 1}),
    ("rpm", 0, 0, {"device_days": (17,), "setup_billed": True}, {"99454": 1}),
    ("rpm", 0, 0, {"device_days": (30,), "setup_billed": True}, {"99454": 1}),
    ("rpm", 0, 0, {"device_days": (15,)}, {"99445": 1}),  # no set-up under 16 days
    ("rpm", 0, 0, {"device_days": (16,)}, {"99454": 1, "99453": 1}),
    ("rpm", 0, 0, {"device_days": (16, 20)}, {"99454": 2, "99453": 1}),  # two periods end in a 31-day month
]


@pytest.mark.parametrize(("program", "cs", "phy", "flags", "expect"), EDGES,
                         ids=[f"{e[0]}-cs{e[1]}-phy{e[2]}-{i}" for i, e in enumerate(EDGES)])
def test_threshold_edges(program, cs, phy, flags, expect):
    assert one(program, cs, phy, **flags).codes == expect


@pytest.mark.parametrize(("program", "cs", "flags", "expect"), [
    ("rpm", 12, {"interactive": True, "device_days": (10,), "setup_billed": True}, {}),  # 2025: no 99445/99470
    ("rpm", 12, {"interactive": True, "device_days": (16,), "setup_billed": True}, {"99454": 1}),
    ("ccm", 45, {}, {"99490": 1, "99439": 1}),
])
def test_code_table_has_effective_dates(program, cs, flags, expect):
    assert one(program, cs, on=Y2025, **flags).codes == expect


@pytest.mark.parametrize("gate", ["consent", "initiating_visit", "eligible"])
@pytest.mark.parametrize("program", ["ccm", "pcm", "rpm"])
def test_gates_bill_nothing(gate, program):
    r = one(program, 60, interactive=True, device_days=(20,), **{gate: False})
    assert r.codes == {} and r.reasons and not r.setup_billed_now
    assert {"consent": rules.NO_CONSENT, "initiating_visit": rules.NO_INITIATING_VISIT,
            "eligible": rules.NOT_ELIGIBLE}[gate] in r.reasons


def test_ccm_by_two_practitioners_is_an_error():
    ms = [MonthInput("a", "p", "A", "ccm", staff_minutes=25), MonthInput("b", "p", "B", "ccm", staff_minutes=40)]
    out = bill_month(ms, Y2026)
    assert [r.codes for r in out] == [{}, {}]
    assert {r.error for r in out} == {rules.CCM_TWO_PRACTITIONERS}


def test_an_enrolment_without_minutes_causes_no_exclusion():
    ms = [MonthInput("a", "p", "A", "ccm", staff_minutes=25), MonthInput("b", "p", "A", "pcm")]
    assert bill_month(ms, Y2026)[0].codes == {"99490": 1}


def test_other_patients_are_independent():
    ms = [MonthInput("a", "p1", "A", "ccm", staff_minutes=25), MonthInput("b", "p2", "A", "pcm", staff_minutes=30)]
    assert [r.codes for r in bill_month(ms, Y2026)] == [{"99490": 1}, {"99426": 1}]


def test_pooling_is_an_organisation_setting():
    no_pool = EngineSettings(pool_practitioner_minutes=False)
    assert one("ccm", 15, 10).codes == {"99490": 1}
    assert one("ccm", 15, 10, settings=no_pool).codes == {}
    assert one("ccm", 15, 10, settings=no_pool).minutes_to_next == 5
    assert one("ccm", 0, 30, settings=no_pool).codes == {"99491": 1}
    assert one("pcm", 15, 20, settings=no_pool).codes == {}


def test_setup_threshold_is_an_organisation_setting():
    two = EngineSettings(rpm_setup_min_days=2)
    assert one("rpm", device_days=(2,), settings=two).codes == {"99445": 1, "99453": 1}


@pytest.mark.parametrize(("program", "cs", "phy", "flags", "code", "short"), [
    ("ccm", 15, 0, {}, "99490", 5),
    ("ccm", 35, 0, {}, "99439", 5),
    ("ccm", 60, 0, {}, None, None),  # the cap is reached: nothing more to earn
    ("ccm", 0, 50, {}, "99437", 10),
    ("ccm", 80, 0, {"complex": True}, "99489", 10),
    ("pcm", 22, 0, {}, "99426", 8),
    ("rpm", 7, 0, {"interactive": True}, "99470", 3),
    ("rpm", 15, 0, {"interactive": True}, "99457", 5),
    ("rpm", 38, 0, {"interactive": True}, "99458", 2),
])
def test_minutes_to_the_next_code(program, cs, phy, flags, code, short):
    r = one(program, cs, phy, **flags)
    assert (r.next_code, r.minutes_to_next) == (code, short)


def test_few_minutes_short_list():
    ms = [MonthInput("near", "p1", "A", "ccm", staff_minutes=17),
          MonthInput("nearer", "p2", "A", "ccm", staff_minutes=19),
          MonthInput("far", "p3", "A", "ccm", staff_minutes=2),
          MonthInput("done", "p4", "A", "ccm", staff_minutes=60)]
    assert [r.key for r in few_minutes_short(bill_month(ms, Y2026))] == ["nearer", "near"]


# --- properties ------------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=400)
CCM_FAMILIES = [{"99490", "99439"}, {"99491", "99437"}, {"99487", "99489"}]


@given(cs=minutes, phy=minutes, complex_=st.booleans(), pool=st.booleans())
def test_ccm_one_family_and_no_minute_counted_twice(cs, phy, complex_, pool):
    r = one("ccm", cs, phy, complex=complex_, settings=EngineSettings(pool_practitioner_minutes=pool))
    assert sum(1 for fam in CCM_FAMILIES if fam & set(r.codes)) <= 1
    assert 0 <= r.minutes["billed"] <= cs + phy
    assert r.minutes["billed"] + r.minutes["unbilled"] == cs + phy
    assert r.codes.get("99439", 0) <= 2
    # add-ons only with their base
    for base, addon in (("99490", "99439"), ("99491", "99437"), ("99487", "99489")):
        assert addon not in r.codes or r.codes.get(base) == 1


@given(cs=minutes, complex_=st.booleans(), program=st.sampled_from(["ccm", "pcm", "rpm"]))
def test_one_more_minute_never_bills_less_within_a_lane(cs, complex_, program):
    a = one(program, cs, complex=complex_, interactive=True)
    b = one(program, cs + 1, complex=complex_, interactive=True)
    assert b.minutes["billed"] >= a.minutes["billed"]


def test_policy_three_can_bill_less_for_one_more_staff_minute():
    """A consequence of the reference's lane policy 3, pinned so nobody is surprised: with 90
    practitioner minutes, staff 19 keeps the practitioner lane (99491 + 99437 x2, 90 minutes);
    staff 20 pools into 99490 + 99439 x2 (capped at 60 minutes). Reported to the lead."""
    assert one("ccm", 19, 90).codes == {"99491": 1, "99437": 2}
    assert one("ccm", 20, 90).codes == {"99490": 1, "99439": 2}


@given(cs=minutes, days=st.lists(st.integers(min_value=0, max_value=30), max_size=2), interactive=st.booleans())
def test_rpm_never_pairs_excluded_codes(cs, days, interactive):
    r = one("rpm", cs, interactive=interactive, device_days=tuple(days))
    assert not ({"99457", "99470"} <= set(r.codes))
    assert r.codes.get("99454", 0) + r.codes.get("99445", 0) <= len(days)
    assert r.codes.get("99453", 0) <= 1
    if not interactive:
        assert not ({"99457", "99458", "99470"} & set(r.codes))


@given(cs=minutes, phy=minutes, program=st.sampled_from(["ccm", "pcm", "rpm"]))
def test_thresholds_are_never_rounded_up(cs, phy, program):
    r = one(program, cs, phy, interactive=True)
    lanes = {lane.base: lane for lane in rules.LANES}
    for code in r.codes:
        if code in lanes:
            lane = lanes[code]
            used = cs + phy if program != "ccm" or lane.name != "ccm_practitioner" else phy
            assert used >= lane.base_minutes


def test_api_activities_match_the_service():
    from typing import get_args

    from praxis.care import timing
    from praxis.care.schemas import Activity

    assert get_args(Activity) == timing.ACTIVITIES


@pytest.mark.parametrize("bad", ["0000-01", "2025-13", "2025-00", "25-01", "2025-1", "", "2025-05-01"])
def test_month_must_be_a_real_calendar_month(bad):
    from praxis.care import months
    from praxis.platform.errors import ValidationProblem

    with pytest.raises(ValidationProblem):
        months.parse_month(bad)


def test_complex_without_a_care_plan_revision_says_why():
    r = one("ccm", 65, complex=True, plan_revised=False)
    assert r.codes == {"99490": 1, "99439": 2} and rules.NO_CARE_PLAN_REVISION in r.reasons
    assert rules.NO_CARE_PLAN_REVISION not in one("ccm", 59, complex=True, plan_revised=False).reasons
    assert rules.NO_CARE_PLAN_REVISION not in one("ccm", 65, complex=True).reasons
