"""The month-end review per coordinator and per practitioner (issue 16 item 7).

From the same engine run as the billing preview: for every billing practitioner and every care
coordinator, who reached a code, who is a few minutes short (and by how many), who will miss, and
who needs a person to decide (an exclusion error). An enrolment belongs to the practitioner who
bills it and to the coordinator who logged most of its clinical-staff minutes that month (its
main coordinator; "no minutes logged" when nobody did), so each enrolment is counted once per view.
A coordinator is keyed by user id (or, for imported and seeded entries without one, by the name
the entry carries).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from praxis.care import closing, rules
from praxis.care.closing import PreviewRow
from praxis.care.models import CareTimeEntry
from praxis.platform.context import Context
from praxis.platform.uow import unit_of_work
from praxis.scheduling.models import Provider

NO_COORDINATOR = "no minutes logged"
GROUPS = ("reached", "close", "miss", "errors")


@dataclass
class ReviewItem:
    enrolment_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    mrn: str
    program: str
    minutes: int  # counted this month, all lanes
    codes: dict[str, int]
    next_code: str | None
    minutes_to_next: int | None
    reasons: list[str]
    days_left: int


@dataclass
class ReviewGroup:
    """One practitioner's or coordinator's month."""

    key: str
    name: str
    minutes: int = 0
    reached: list[ReviewItem] = field(default_factory=list)
    close: list[ReviewItem] = field(default_factory=list)
    miss: list[ReviewItem] = field(default_factory=list)
    errors: list[ReviewItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.reached) + len(self.close) + len(self.miss) + len(self.errors)


@dataclass
class MonthReview:
    month: str
    short_window_minutes: int
    practitioners: list[ReviewGroup]
    coordinators: list[ReviewGroup]


def classify(rows: list[PreviewRow], settings: rules.EngineSettings) -> dict[uuid.UUID, str]:
    """Each enrolment's group: errors, reached (billable), close (within the setting's window of
    its next code), or miss. The month screen groups its table the same way."""
    short = {r.key for r in rules.few_minutes_short([r.result for r in rows], settings)}
    out: dict[uuid.UUID, str] = {}
    for r in rows:
        if r.result.error:
            out[r.enrolment.id] = "errors"
        elif r.result.billable:
            out[r.enrolment.id] = "reached"
        elif r.result.key in short:
            out[r.enrolment.id] = "close"
        else:
            out[r.enrolment.id] = "miss"
    return out


def _item(r: PreviewRow) -> ReviewItem:
    res = r.result
    return ReviewItem(enrolment_id=r.enrolment.id, patient_id=r.enrolment.patient_id, patient_name=r.patient_name,
                      mrn=r.mrn, program=r.enrolment.program,
                      minutes=res.minutes.get("staff", 0) + res.minutes.get("practitioner", 0), codes=dict(res.codes),
                      next_code=res.next_code, minutes_to_next=res.minutes_to_next, reasons=list(res.reasons),
                      days_left=r.days_left)


def month_review(ctx: Context, month: str, *, location_id: uuid.UUID | None = None) -> MonthReview:
    """The month's review per billing practitioner and per main coordinator (read: care:read at
    the enrolments' locations, like the billing preview it is computed from)."""
    rows = closing.billing_preview(ctx, month, location_id=location_id)
    return build_review(ctx, month, rows, closing.get_settings(ctx))


def build_review(ctx: Context, month: str, rows: list[PreviewRow], settings: rules.EngineSettings) -> MonthReview:
    """The review of preview rows already computed (the month screen shows both)."""
    group_of = classify(rows, settings)
    ids = [r.enrolment.id for r in rows]
    with unit_of_work(ctx) as session:
        names = {pid: f"{first} {last}".strip() for pid, first, last in session.execute(
            select(Provider.id, Provider.first_name, Provider.last_name).where(
                Provider.id.in_({r.enrolment.provider_id for r in rows})))}
        # A coordinator is their user id when the entries have one (two people may share a name),
        # else the name an imported or seeded entry carries.
        authored: dict[uuid.UUID, list[tuple[int, str]]] = defaultdict(list)
        minutes_by_author: dict[str, int] = defaultdict(int)
        author_names: dict[str, str] = {NO_COORDINATOR: NO_COORDINATOR}
        wanted = set(ids)
        many = len(wanted) > closing.WHOLE_MONTH_FROM  # the whole month in one pass, as the preview does
        for start in range(0, len(ids) if not many else 1, 5000):
            for eid, author_id, author_name, total in session.connection().execute(
                    select(CareTimeEntry.enrolment_id, CareTimeEntry.author_id, CareTimeEntry.author_name,
                           func.sum(CareTimeEntry.minutes))
                    .where(CareTimeEntry.org_id == ctx.org_id,
                           *(() if many else (CareTimeEntry.enrolment_id.in_(ids[start:start + 5000]),)),
                           CareTimeEntry.service_month == month, CareTimeEntry.voided.is_(False),
                           CareTimeEntry.role == "staff")
                    .group_by(CareTimeEntry.enrolment_id, CareTimeEntry.author_id, CareTimeEntry.author_name)):
                if eid not in wanted:
                    continue
                author = str(author_id) if author_id else f"name:{author_name}"
                author_names.setdefault(author, author_name)
                authored[eid].append((int(total or 0), author))
                minutes_by_author[author] += int(total or 0)
    practitioners: dict[str, ReviewGroup] = {}
    coordinators: dict[str, ReviewGroup] = {}
    for r in rows:
        item = _item(r)
        pkey = str(r.enrolment.provider_id)
        pg = practitioners.setdefault(pkey, ReviewGroup(pkey, names.get(r.enrolment.provider_id, "?")))
        pg.minutes += item.minutes
        # The main coordinator: most minutes, then the name (a stable tie-break).
        main = max(authored.get(r.enrolment.id, []), key=lambda t: (t[0], t[1]), default=(0, NO_COORDINATOR))[1]
        cg = coordinators.setdefault(main, ReviewGroup(main, author_names[main], minutes_by_author.get(main, 0)))
        for g in (pg, cg):
            getattr(g, group_of[r.enrolment.id]).append(item)
    for g in (*practitioners.values(), *coordinators.values()):
        g.close.sort(key=lambda i: (i.minutes_to_next or 0, i.patient_name))
        g.miss.sort(key=lambda i: (i.minutes_to_next if i.minutes_to_next is not None else 10**6, i.patient_name))
        g.reached.sort(key=lambda i: i.patient_name)

    def order(groups: dict[str, ReviewGroup]) -> list[ReviewGroup]:
        return sorted(groups.values(), key=lambda g: (g.name == NO_COORDINATOR, g.name.lower()))

    return MonthReview(month, settings.short_window_minutes, order(practitioners), order(coordinators))
