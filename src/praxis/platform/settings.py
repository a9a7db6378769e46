"""Settings from the environment (`PRAXIS_` prefix) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    # json: one JSON object a line (production); console: readable lines; auto: console when
    # stderr is a terminal, else JSON.
    log_format: Literal["auto", "json", "console"] = "auto"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'praxis.db').as_posix()}"

    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.var_dir / "keyring.json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
