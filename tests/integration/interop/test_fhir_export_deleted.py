"""The export manifest's `deleted` list (decision 55): with `_since`, transaction Bundles of DELETEs
for exported resources deleted since then (a Schedule: a provider who left a location)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from praxis.interop.fhir_search import schedule_id
from praxis.platform import clock
from praxis.platform.clock import now
from praxis.scheduling import setup as scheduling_setup
from tests.integration.interop.test_fhir_export import EVERYTHING, _drain, _kickoff, _ndjson
from tests.integration.scheduling.helpers import make_world


def _manifest(c: Any, status: str) -> dict[str, Any]:
    r = c.get(status)
    assert r.status_code == 200, r.text
    return r.json()


def _deleted(c: Any, manifest: dict[str, Any]) -> list[str]:
    """The DELETE urls of every Bundle of the manifest's `deleted` files (each validated as R4B)."""
    urls = []
    for f in manifest["deleted"]:
        assert f["type"] == "Bundle"
        bundles = _ndjson(c, f["url"])
        assert len(bundles) == f["count"]
        for b in bundles:
            Bundle.model_validate(b)
            assert b["type"] == "transaction"
            assert all(e["request"]["method"] == "DELETE" and set(e) == {"request"} for e in b["entry"])
            urls += [e["request"]["url"] for e in b["entry"]]
    return urls


def test_a_schedule_removed_after_since_is_in_deleted_and_not_before(org: Any, other_org: Any, bearer: Any) -> None:
    w = make_world(org)  # the first provider works at loc_a and loc_b
    before = now()
    clock.advance(timedelta(seconds=1))
    scheduling_setup.update_provider(w.ctx, w.provider_id, changes={}, location_ids=[org.loc_b.id])
    gone = f"Schedule/{schedule_id(w.provider_id, org.loc_a.id)}"
    after = now() + timedelta(seconds=1)
    c = bearer(org, EVERYTHING)
    since = _kickoff(c, _since=before.isoformat())
    since_later = _kickoff(c, _since=after.isoformat(), _type="Schedule")
    whole = _kickoff(c, _type="Schedule")
    not_schedules = _kickoff(c, _since=before.isoformat(), _type="Practitioner,PractitionerRole")
    at_b = bearer(org, EVERYTHING, location_ids=[org.loc_b.id])
    at_b_since = _kickoff(at_b, _since=before.isoformat(), _type="Schedule")
    _drain(org)
    other = bearer(other_org, EVERYTHING)
    other_since = _kickoff(other, _since=before.isoformat(), _type="Schedule")
    _drain(other_org)  # after org's: draining one organisation parks the others' messages

    m = _manifest(c, since)
    assert _deleted(c, m) == [gone]
    # The deleted Schedule is not among the exported ones; the provider's other Schedule is.
    schedules = {r["id"] for o in m["output"] if o["type"] == "Schedule" for r in _ndjson(c, o["url"])}
    assert schedule_id(w.provider_id, org.loc_b.id) in schedules and gone.split("/")[1] not in schedules
    assert _manifest(c, since_later)["deleted"] == []
    assert "deleted" not in _manifest(c, whole)  # without _since the client holds no copy to correct
    assert _manifest(c, not_schedules)["deleted"] == []  # only the types asked for
    assert _manifest(at_b, at_b_since)["deleted"] == []  # loc_a is outside this token's locations
    assert _manifest(other, other_since)["deleted"] == []  # another organisation's tombstones stay its own


def test_a_schedule_made_again_is_not_listed_as_deleted(org: Any, bearer: Any) -> None:
    w = make_world(org)
    before = now()
    clock.advance(timedelta(seconds=1))
    scheduling_setup.update_provider(w.ctx, w.provider_id, changes={}, location_ids=[org.loc_b.id])
    scheduling_setup.update_provider(w.ctx, w.provider_id, changes={}, location_ids=[org.loc_a.id, org.loc_b.id])
    c = bearer(org, EVERYTHING)
    status = _kickoff(c, _since=before.isoformat(), _type="Schedule")
    _drain(org)
    m = _manifest(c, status)
    assert m["deleted"] == []
    schedules = {r["id"] for o in m["output"] for r in _ndjson(c, o["url"])}
    assert schedule_id(w.provider_id, org.loc_a.id) in schedules
