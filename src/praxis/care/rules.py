"""The monthly care-management billing engine: minutes and data days in, codes and units out.

Pure: no I/O, no clock, no database. Every threshold comes from the code table below, which is
data with effective dates, so next year's change (or a new programme) is a data change. Sources:
/work/shared/reference/care-management-rules.md (kept in the repository's shared reference; the
section names below are that file's), CPT descriptors and the CY2026 PFS final rule as cited there.

Policy (section 2 of the reference, "Engine policy"):

1. Minutes are one enrolment's whole-month totals, by role: clinical staff (`staff`) and the
   billing practitioner personally (`practitioner`).
2. Nothing is billed without documented consent, the initiating visit and programme eligibility.
3. Non-complex CCM: practitioner >= 30 and staff < 20 uses the 99491/99437 lane on the
   practitioner's minutes only; otherwise the practitioner's minutes are pooled into clinical-staff
   time (the CMS CCM FAQ allows it) for 99490/99439. Pooling is an organisation setting
   (`EngineSettings.pool_practitioner_minutes`); the same choice applies to PCM (99424/5 vs 99426/7).
4. Complex CCM (99487/99489) only when the enrolment is complex (moderate or high MDM), the care
   plan was established or substantially revised in the month (`plan_revised`, from the care
   plan's versions: care.careplan.revised_in) and the (pooled) staff minutes reach 60; else
   non-complex CCM, with the reason NO_CARE_PLAN_REVISION when only the revision was missing.
5. Increments are floored: thresholds are minimums and partial add-on increments are lost.
   Caps: 99439 at most 2 per month; no other caps (none found in CMS sources).
6. CCM and PCM with the same practitioner in one month: error CCM_PCM_SAME_PRACTITIONER, nothing
   billed for either until a person resolves it. CCM with two practitioners in one month: error
   CCM_TWO_PRACTITIONERS likewise (only one practitioner is paid for CCM per month).
7. RPM: 99457 (first 20 min) + 99458 (each further 20) need at least one interactive
   communication; 10-19 minutes give 99470 (2026) instead, never both. Device supply per 30-day
   period ending in the month: 16-30 data days 99454, 2-15 days 99445 (2026), never both.
   99453 once per episode, with the first period reaching `rpm_setup_min_days` data days (16 by
   default: the historical CMS rule; the reference could not confirm a 2026 change).

Each minute goes to one lane of one enrolment, so a minute is never counted for two codes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

REF = "care-management-rules.md"

# Reasons and errors (stable strings: the preview and the month-end review show them).
NO_CONSENT = "NO_CONSENT"
NO_INITIATING_VISIT = "NO_INITIATING_VISIT"
NOT_ELIGIBLE = "NOT_ELIGIBLE"
BELOW_THRESHOLD = "BELOW_THRESHOLD"
NO_INTERACTIVE = "NO_INTERACTIVE"
TOO_FEW_DATA_DAYS = "TOO_FEW_DATA_DAYS"
# Informational: a complex enrolment reached 60 minutes but its care plan was neither established
# nor substantially revised this month, so non-complex CCM was billed instead of 99487.
NO_CARE_PLAN_REVISION = "NO_CARE_PLAN_REVISION"
CCM_PCM_SAME_PRACTITIONER = "CCM_PCM_SAME_PRACTITIONER"
CCM_TWO_PRACTITIONERS = "CCM_TWO_PRACTITIONERS"
ERRORS = frozenset({CCM_PCM_SAME_PRACTITIONER, CCM_TWO_PRACTITIONERS})


@dataclass(frozen=True)
class Lane:
    """A time-based code family: `base` at `base_minutes`, then `addon` per further `addon_minutes`."""

    name: str
    program: str
    base: str
    base_minutes: int
    addon: str | None
    addon_minutes: int
    addon_cap: int | None
    effective_from: date
    effective_to: date | None = None
    source: str = REF


@dataclass(frozen=True)
class DeviceRule:
    """RPM device supply: one unit per 30-day period with `min_days`..`max_days` data days."""

    code: str
    min_days: int
    max_days: int
    effective_from: date
    effective_to: date | None = None
    source: str = REF


@dataclass(frozen=True)
class ShortTimeRule:
    """RPM treatment management for fewer minutes than the base lane (99470: 10-19 min)."""

    code: str
    min_minutes: int
    effective_from: date
    effective_to: date | None = None
    source: str = REF


_EPOCH = date(2015, 1, 1)
_Y2022 = date(2022, 1, 1)  # CY2022 PFS: 99437 and the PCM CPT codes
_Y2026 = date(2026, 1, 1)  # CY2026 PFS: 99445 and 99470 (reference tag [2°])

LANES: tuple[Lane, ...] = (
    Lane("ccm_staff", "ccm", "99490", 20, "99439", 20, 2, _EPOCH, source=f"{REF} §1: 99490/99439, cap 2"),
    Lane("ccm_practitioner", "ccm", "99491", 30, "99437", 30, None, _Y2022, source=f"{REF} §1: 99491/99437"),
    Lane("ccm_complex", "ccm", "99487", 60, "99489", 30, None, _EPOCH, source=f"{REF} §1: 99487/99489"),
    Lane("pcm_practitioner", "pcm", "99424", 30, "99425", 30, None, _Y2022, source=f"{REF} §1: 99424/99425"),
    Lane("pcm_staff", "pcm", "99426", 30, "99427", 30, None, _Y2022, source=f"{REF} §1: 99426/99427"),
    Lane("rpm_time", "rpm", "99457", 20, "99458", 20, None, _EPOCH, source=f"{REF} §1: 99457/99458"),
)
DEVICE_RULES: tuple[DeviceRule, ...] = (
    DeviceRule("99454", 16, 30, _EPOCH, source=f"{REF} §1: 99454, 16-30 days in 30"),
    DeviceRule("99445", 2, 15, _Y2026, source=f"{REF} §1: 99445 (new 2026), 2-15 days, not with 99454"),
)
SHORT_TIME_RULES: tuple[ShortTimeRule, ...] = (
    ShortTimeRule("99470", 10, _Y2026, source=f"{REF} §1: 99470 (new 2026), 10-19 min, not with 99457"),
)
RPM_SETUP = "99453"  # once per episode of care (reference §1)


def _effective(rule: Lane | DeviceRule | ShortTimeRule, on: date) -> bool:
    return rule.effective_from <= on and (rule.effective_to is None or on <= rule.effective_to)


@dataclass(frozen=True)
class CodeTable:
    """The rules in force on one day (the first of the month billed)."""

    lanes: dict[str, Lane]
    device: tuple[DeviceRule, ...]
    short_time: ShortTimeRule | None

    @classmethod
    def on(cls, day: date, lanes: Iterable[Lane] = LANES, device: Iterable[DeviceRule] = DEVICE_RULES,
           short_time: Iterable[ShortTimeRule] = SHORT_TIME_RULES) -> CodeTable:
        return cls(lanes={lane.name: lane for lane in lanes if _effective(lane, day)},
                   device=tuple(sorted((d for d in device if _effective(d, day)), key=lambda d: -d.min_days)),
                   short_time=next((s for s in short_time if _effective(s, day)), None))


@dataclass(frozen=True)
class EngineSettings:
    """The organisation's choices where CMS leaves one (documented in docs/decisions.md)."""

    pool_practitioner_minutes: bool = True  # count practitioner minutes as clinical-staff time
    rpm_setup_min_days: int = 16  # data days in a period before 99453 is billed
    short_window_minutes: int = 10  # "a few minutes short" means at most this many


@dataclass(frozen=True)
class MonthInput:
    """One enrolment's month."""

    key: Hashable  # the enrolment
    patient: Hashable
    practitioner: Hashable
    program: str  # ccm | pcm | rpm
    staff_minutes: int = 0
    practitioner_minutes: int = 0
    interactive: bool = False  # at least one real-time interactive communication this month
    consent: bool = True
    initiating_visit: bool = True
    eligible: bool = True
    complex: bool = False  # moderate or high medical decision making (the enrolment's complexity)
    plan_revised: bool = True  # the care plan was established or substantially revised this month
    device_days: tuple[int, ...] = ()  # data days of each 30-day period ending this month
    setup_billed: bool = False  # 99453 already billed in this episode


@dataclass(frozen=True)
class MonthResult:
    key: Hashable
    program: str
    codes: dict[str, int] = field(default_factory=dict)
    lane: str | None = None
    minutes: dict[str, int] = field(default_factory=dict)  # counted per role, and unbilled
    next_code: str | None = None
    minutes_to_next: int | None = None
    reasons: tuple[str, ...] = ()
    setup_billed_now: bool = False

    @property
    def billable(self) -> bool:
        return bool(self.codes)

    @property
    def error(self) -> str | None:
        return next((r for r in self.reasons if r in ERRORS), None)


@dataclass(frozen=True)
class LaneOutcome:
    codes: dict[str, int]
    counted: int
    next_code: str | None
    to_next: int | None


def apply_lane(lane: Lane, minutes: int) -> LaneOutcome:
    """Floor `minutes` into the lane's base and add-on units (caps applied)."""
    if minutes < lane.base_minutes:
        return LaneOutcome({}, 0, lane.base, lane.base_minutes - minutes)
    codes = {lane.base: 1}
    counted = lane.base_minutes
    if lane.addon is None:
        return LaneOutcome(codes, counted, None, None)
    units = (minutes - lane.base_minutes) // lane.addon_minutes
    capped = units if lane.addon_cap is None else min(units, lane.addon_cap)
    if capped:
        codes[lane.addon] = capped
        counted += capped * lane.addon_minutes
    if lane.addon_cap is not None and capped >= lane.addon_cap:
        return LaneOutcome(codes, counted, None, None)
    return LaneOutcome(codes, counted, lane.addon, lane.base_minutes + (capped + 1) * lane.addon_minutes - minutes)


def _gates(m: MonthInput) -> list[str]:
    reasons = []
    if not m.consent:
        reasons.append(NO_CONSENT)
    if not m.initiating_visit:
        reasons.append(NO_INITIATING_VISIT)
    if not m.eligible:
        reasons.append(NOT_ELIGIBLE)
    return reasons


def _timed(m: MonthInput, lane: Lane, minutes: int, reasons: list[str], **extra: int) -> MonthResult:
    out = apply_lane(lane, minutes)
    if not out.codes:
        reasons.append(BELOW_THRESHOLD)
    total = m.staff_minutes + m.practitioner_minutes
    counted = {"staff": m.staff_minutes, "practitioner": m.practitioner_minutes, "billed": out.counted,
               "unbilled": total - out.counted, **extra}
    return MonthResult(m.key, m.program, out.codes, lane.name, counted, out.next_code, out.to_next, tuple(reasons))


def _two_lanes(m: MonthInput, table: CodeTable, settings: EngineSettings, practitioner: str, staff: str,
               practitioner_min: int, staff_min: int) -> tuple[Lane, int]:
    """Policy 3: the practitioner lane when the practitioner reaches its base and staff do not reach
    theirs; otherwise staff time, with the practitioner's minutes pooled when the setting says so."""
    p_lane, s_lane = table.lanes.get(practitioner), table.lanes[staff]
    if p_lane is not None and m.practitioner_minutes >= practitioner_min and m.staff_minutes < staff_min:
        return p_lane, m.practitioner_minutes
    pooled = m.staff_minutes + (m.practitioner_minutes if settings.pool_practitioner_minutes else 0)
    return s_lane, pooled


def _ccm(m: MonthInput, table: CodeTable, settings: EngineSettings, reasons: list[str]) -> MonthResult:
    staff = table.lanes["ccm_staff"]
    prac = table.lanes.get("ccm_practitioner")
    lane, minutes = _two_lanes(m, table, settings, "ccm_practitioner", "ccm_staff",
                               prac.base_minutes if prac else 10**9, staff.base_minutes)
    complex_lane = table.lanes.get("ccm_complex")
    if m.complex and lane is staff and complex_lane is not None and minutes >= complex_lane.base_minutes:
        if m.plan_revised:
            lane = complex_lane
        else:
            reasons.append(NO_CARE_PLAN_REVISION)
    return _timed(m, lane, minutes, reasons)


def _pcm(m: MonthInput, table: CodeTable, settings: EngineSettings, reasons: list[str]) -> MonthResult:
    staff, prac = table.lanes["pcm_staff"], table.lanes["pcm_practitioner"]
    lane, minutes = _two_lanes(m, table, settings, "pcm_practitioner", "pcm_staff", prac.base_minutes,
                               staff.base_minutes)
    return _timed(m, lane, minutes, reasons)


def _rpm(m: MonthInput, table: CodeTable, settings: EngineSettings, reasons: list[str]) -> MonthResult:
    codes: dict[str, int] = {}
    minutes = m.staff_minutes + m.practitioner_minutes  # RPM time counts whoever spends it
    lane = table.lanes["rpm_time"]
    next_code, to_next, counted = None, None, 0
    if minutes and not m.interactive:
        reasons.append(NO_INTERACTIVE)
        next_code = None
    elif minutes:
        out = apply_lane(lane, minutes)
        short = table.short_time
        if out.codes:
            codes.update(out.codes)
            counted, next_code, to_next = out.counted, out.next_code, out.to_next
        elif short is not None and minutes >= short.min_minutes:
            codes[short.code] = 1  # 10-19 minutes: 99470, never with 99457
            counted, next_code, to_next = short.min_minutes, lane.base, lane.base_minutes - minutes
        else:
            reasons.append(BELOW_THRESHOLD)
            if short is not None:
                next_code, to_next = short.code, short.min_minutes - minutes
            else:
                next_code, to_next = lane.base, lane.base_minutes - minutes
    setup_now = False
    for days in m.device_days:
        rule = next((d for d in table.device if d.min_days <= days <= d.max_days), None)
        if rule is None:
            reasons.append(TOO_FEW_DATA_DAYS)
            continue
        codes[rule.code] = codes.get(rule.code, 0) + 1  # one device code per period, never both
        if not m.setup_billed and not setup_now and days >= settings.rpm_setup_min_days:
            codes[RPM_SETUP] = 1
            setup_now = True
    if not codes and minutes == 0 and not m.device_days:
        reasons.append(BELOW_THRESHOLD)
    used = {"staff": m.staff_minutes, "practitioner": m.practitioner_minutes, "billed": counted,
            "unbilled": minutes - counted}
    return MonthResult(m.key, m.program, codes, lane.name if counted else None, used, next_code, to_next,
                       tuple(dict.fromkeys(reasons)), setup_now)


def _patient_errors(inputs: Sequence[MonthInput]) -> dict[Hashable, str]:
    """Rule 6: CCM and PCM by one practitioner, or CCM by two, in the same month."""
    def active(m: MonthInput) -> bool:
        return m.staff_minutes + m.practitioner_minutes > 0

    errors: dict[Hashable, str] = {}
    ccm = [m for m in inputs if m.program == "ccm" and active(m)]
    pcm = [m for m in inputs if m.program == "pcm" and active(m)]
    if len({m.practitioner for m in ccm}) > 1:
        for m in ccm:
            errors[m.key] = CCM_TWO_PRACTITIONERS
    for c in ccm:
        for p in pcm:
            if c.practitioner == p.practitioner:
                errors[c.key] = errors[p.key] = CCM_PCM_SAME_PRACTITIONER
    return errors


def bill_month(inputs: Sequence[MonthInput], month_first_day: date, settings: EngineSettings | None = None,
               table: CodeTable | None = None) -> list[MonthResult]:
    """Codes and units for every enrolment's month, in input order."""
    settings = settings or EngineSettings()
    table = table or CodeTable.on(month_first_day)
    by_patient: dict[Hashable, list[MonthInput]] = defaultdict(list)
    for m in inputs:
        by_patient[m.patient].append(m)
    errors: dict[Hashable, str] = {}
    for group in by_patient.values():
        if len(group) > 1:
            errors.update(_patient_errors(group))
    results = []
    for m in inputs:
        reasons = _gates(m)
        if m.key in errors:
            reasons.append(errors[m.key])
        if m.program == "ccm":
            r = _ccm(m, table, settings, list(reasons))
        elif m.program == "pcm":
            r = _pcm(m, table, settings, list(reasons))
        elif m.program == "rpm":
            r = _rpm(m, table, settings, list(reasons))
        else:
            raise ValueError(f"unknown programme {m.program!r}")
        if reasons:  # a gate or an exclusion: report what the engine would give, bill nothing
            r = MonthResult(r.key, r.program, {}, r.lane, r.minutes, r.next_code, r.minutes_to_next,
                            tuple(dict.fromkeys([*reasons, *r.reasons])), False)
        results.append(r)
    return results


def few_minutes_short(results: Iterable[MonthResult], settings: EngineSettings | None = None) -> list[MonthResult]:
    """Enrolments within `short_window_minutes` of their next code, fewest minutes first."""
    window = (settings or EngineSettings()).short_window_minutes
    short = [r for r in results if r.minutes_to_next is not None and 0 < r.minutes_to_next <= window
             and r.error is None]
    return sorted(short, key=lambda r: r.minutes_to_next or 0)
