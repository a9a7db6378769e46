"""Import files kept between the screen's round trips: encrypted, per organisation, expiring."""

from __future__ import annotations

import os
import time

import pytest

from praxis.patients import import_uploads, importer
from praxis.platform.context import system_context
from praxis.platform.errors import Forbidden


def test_kept_file_round_trips_encrypted_and_only_for_its_organisation(org, other_org):
    ctx = system_context(org.id)
    data = b"external_id,last_name\nX1,Ortiz\n"
    token = importer.stash_upload(ctx, "p.csv", data)
    path = import_uploads._folder(org.id) / token
    assert path.is_file() and b"Ortiz" not in path.read_bytes()  # encrypted at rest
    assert importer.load_upload(ctx, token) == ("p.csv", data)
    # Another organisation's token, a malformed one or an unknown one is simply not there.
    assert importer.load_upload(system_context(other_org.id), token) is None
    assert importer.load_upload(ctx, "../" + token[3:]) is None
    assert importer.load_upload(ctx, "0" * 32) is None
    importer.discard_upload(ctx, token)
    assert not path.exists() and importer.load_upload(ctx, token) is None
    importer.discard_upload(ctx, "")  # nothing to discard: no error


def test_expired_files_are_refused_and_swept(org):
    ctx = system_context(org.id)
    old = importer.stash_upload(ctx, "old.csv", b"a,b\n")
    path = import_uploads._folder(org.id) / old
    stale = time.time() - import_uploads.UPLOAD_TTL_SECONDS - 60
    os.utime(path, (stale, stale))
    assert importer.load_upload(ctx, old) is None
    importer.stash_upload(ctx, "new.csv", b"c,d\n")
    assert not path.exists()


def test_keeping_a_file_needs_the_import_permission(org, make_user, ctx_for):
    desk = ctx_for(make_user(org, "front_desk", org.loc_a))
    with pytest.raises(Forbidden):
        importer.stash_upload(desk, "p.csv", b"a,b\n")
    with pytest.raises(Forbidden):
        importer.load_upload(desk, "0" * 32)
