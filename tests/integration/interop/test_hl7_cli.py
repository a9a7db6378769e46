"""`praxis hl7 listen` as a real process on a random port, and `praxis hl7 replay`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from praxis.cli import app
from praxis.formats.hl7v2 import MllpDecoder, mllp_frame, parse_message
from tests.integration.interop.test_hl7_mllp import a04, corpus, patients, send, stored


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _facilities(tmp_path: Path, org: Any) -> Path:
    path = tmp_path / "facilities.json"
    path.write_text(json.dumps({"Ntierprise Clinic": {"org_id": str(org.id), "location_id": str(org.loc_a.id)},
                                "GHHSFacility": {"org_id": str(org.id)}}))
    return path


def test_listen_command_serves_mllp(org: Any, database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PRAXIS_DATABASE_URL": database_url, "PRAXIS_VAR_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "praxis", "hl7", "listen", "--port", str(port), "--facilities",
         str(_facilities(tmp_path, org))],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "listener did not start"
                time.sleep(0.2)
        with conn:
            conn.settimeout(30)
            conn.sendall(mllp_frame(a04("CLI-1", "Listen", "Lena", "CLI-C1")))
            decoder, acks = MllpDecoder(), []
            while not acks:
                acks = decoder.feed(conn.recv(65536))
        ack = parse_message(acks[0])
        assert ack.get("MSA-1") == "AA", ack.encode()
        assert [p.last_name for p in patients(org)] == ["Listen"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_replay_command_prints_the_new_ack(org: Any, tmp_path: Path) -> None:
    (ack,) = send(org, corpus("adt_a08/fc_ADT-A08-01.hl7", control_id="EARLY"))
    assert ack.get("MSA-1") == "AE"
    send(org, corpus("adt_a04/fc_ADT-A04-02.hl7"))
    failed = next(r for r in stored(org) if r.control_id == "EARLY")
    result = CliRunner().invoke(
        app, ["hl7", "replay", str(failed.id), "--org", org.slug, "--facilities", str(_facilities(tmp_path, org))]
    )
    assert result.exit_code == 0, result.output
    assert "MSA|AA|EARLY" in result.output
