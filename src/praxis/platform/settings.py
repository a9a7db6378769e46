"""Settings from the environment (`PRAXIS_` prefix) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_", env_file=".env", extra="ignore")

    # Everything generated at run time (SQLite file, keys, uploads) lives here, never in git.
    var_dir: Path = Path("var")
    database_url: str = ""
    # Web sessions
    session_idle_minutes: int = Field(default=15, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    cookie_secure: bool = True
    # argon2id cost; the defaults are argon2-cffi's recommendation. The test suite lowers them.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    break_glass_minutes: int = Field(default=60, ge=1)
    # Key ring file (JSON) for field encryption and the blind index; generated when absent.
    keyring_file: Path | None = None
    # Where the npm-installed front-end assets are (node_modules of the repo by default).
    assets_dir: Path = Path("node_modules")
    audit_seal_interval_seconds: float = 2.0
    # Where patients reach the app: links sent by SMS/e-mail (intake links) start with this.
    public_base_url: str = "http://localhost:8000"
    log_level: str = "INFO"
    # The one size cap for every upload path (API and screens, bearer token or cookie): a file
    # larger than this is refused; a request body may exceed it only by UPLOAD_FORM_OVERHEAD.
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Imports of files larger than this run in the worker, with progress the import screen polls.
    import_background_bytes: int = Field(default=2 * 1024 * 1024, ge=0)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'praxis.db').as_posix()}"

    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.var_dir / "keyring.json"


@lru_cache
def get_settings() -> Settings:
    return Settings()


UPLOAD_FORM_OVERHEAD = 1024 * 1024
"""Room in a request body for the form fields and multipart framing around an uploaded file."""


def upload_limit() -> int:
    """The largest file any upload path accepts (PRAXIS_MAX_UPLOAD_BYTES)."""
    return get_settings().max_upload_bytes


def body_limit() -> int:
    """The largest request body the server reads: the upload limit plus room for the form."""
    return upload_limit() + UPLOAD_FORM_OVERHEAD
