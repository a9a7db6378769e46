"""`praxis user create` refuses an existing e-mail in one line, not a traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from praxis.cli import app as cli


def test_user_create_for_an_existing_email_is_one_line(org, make_user):
    existing = make_user(org, "front_desk")
    result = CliRunner().invoke(cli, ["user", "create", "--org", org.slug, existing.email, "Someone Else",
                                      "--role", "front_desk", "--password", "another long password"])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert lines == [f"error: A user with this email exists ({existing.email})"]
    assert "Traceback" not in result.output


def test_user_create_with_a_bad_email_is_one_line(org):
    result = CliRunner().invoke(cli, ["user", "create", "--org", org.slug, "not-an-email", "Someone",
                                      "--password", "another long password"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = [x for x in result.output.splitlines() if x.strip()]
    assert line.startswith("error: Invalid email")
