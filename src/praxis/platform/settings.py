"""Settings from the environment (`PRAXIS_` prefix) or a `.env` file."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
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
    # Requests a minute per API client unless the client has its own limit (decision 41).
    api_rate_limit_per_minute: int = Field(default=600, ge=1)
    # Key ring file (JSON) for field encryption and the blind index; generated when absent.
    keyring_file: Path | None = None
    # Where the npm-installed front-end assets are (node_modules of the repo by default).
    assets_dir: Path = Path("node_modules")
    audit_seal_interval_seconds: float = 2.0
    # Signed checkpoints of the audit chains (sequence number and head hash), appended to a file
    # outside the database that `praxis audit verify` compares against (var/audit/checkpoints.jsonl
    # by default); a new one per organisation at most this often while its chain grows.
    audit_checkpoint_file: Path | None = None
    audit_checkpoint_interval_seconds: float = Field(default=60.0, ge=0)
    # The longest a transaction that writes audit records may run: the sealer refuses (and verify
    # reports) unsealed records dated earlier than this before the newest sealed one (back-dated).
    audit_max_transaction_seconds: int = Field(default=900, ge=1)
    # Where patients reach the app: links sent by SMS/e-mail (intake links) start with this.
    public_base_url: str = "http://localhost:8000"
    # HL7 v2 inbound: JSON file mapping MSH-4.1 (sending facility) -> {"org_id", "location_id"}.
    hl7_facilities_file: Path | None = None
    # HL7 listener: threads that store and apply batches (docs/hl7.md, decision 37). One measured
    # best: a second writer mostly waits on the first batch's MRN counter lock and adds contention.
    hl7_writers: int = Field(default=1, ge=1, le=16)
    log_level: str = "INFO"
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or
    # networks, e.g. "127.0.0.1,10.0.0.0/8"). Empty: no proxy, so a client cannot choose the address
    # the per-IP sign-in throttle and the audit log see by sending the header itself.
    trusted_proxies: str = ""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in (x.strip() for x in value.split(",")):
            if not part:
                continue
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"PRAXIS_TRUSTED_PROXIES: {part!r} is not an IP address or network") from None
        return value

    # Webhook URLs (outbound HTTP to an address an integrator chose): refused when the host is or
    # resolves to a private, loopback, link-local, multicast, reserved or unspecified address, at
    # save time and again on the address connected to. `true` lifts the rule and also allows
    # http:// (development and tests only); the allow-list opens named networks (CIDRs, comma-
    # separated, e.g. an integration engine on 10.20.0.0/16) to https deliveries.
    webhook_allow_private_networks: bool = False
    webhook_allowed_networks: str = ""

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _webhook_networks(cls, value: str) -> str:
        for part in (x.strip() for x in value.split(",")):
            if not part:
                continue
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"PRAXIS_WEBHOOK_ALLOWED_NETWORKS: {part!r} is not an IP network") from None
        return value

    def webhook_allowed_network_list(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(x.strip(), strict=False) for x in self.webhook_allowed_networks.split(",")
                if x.strip()]

    def trusted_proxy_list(self) -> list[str]:
        return [x.strip() for x in self.trusted_proxies.split(",") if x.strip()]

    def uvicorn_proxy_options(self) -> dict[str, object]:
        """What `praxis serve` tells uvicorn about proxies: X-Forwarded-* headers are read only from
        the trusted proxies, and not at all when none is named (uvicorn's own default trusts
        127.0.0.1, which lets any local client, or one behind no proxy, pick its address)."""
        trusted = self.trusted_proxy_list()
        if not trusted:
            return {"proxy_headers": False, "forwarded_allow_ips": ""}
        return {"proxy_headers": True, "forwarded_allow_ips": ",".join(trusted)}

    # Check every Core statement for an org_id condition on the tenant tables it uses, before it
    # runs (platform.scoping). On in the test suite and `make run`; costs a walk of each statement.
    check_tenant_scope: bool = False

    # json: one JSON object a line (production); console: readable lines; auto: console when
    # stderr is a terminal, else JSON.
    log_format: Literal["auto", "json", "console"] = "auto"

    # The one size cap for every upload path (API and screens, bearer token or cookie): a file
    # larger than this is refused; a request body may exceed it only by UPLOAD_FORM_OVERHEAD.
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Imports of files larger than this run in the worker, with progress the import screen polls.
    import_background_bytes: int = Field(default=2 * 1024 * 1024, ge=0)
    # FHIR bulk export ($export): how long a finished export's files may be downloaded.
    fhir_export_expire_minutes: int = Field(default=24 * 60, ge=1)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'praxis.db').as_posix()}"

    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.var_dir / "keyring.json"

    def resolved_audit_checkpoint_file(self) -> Path:
        return self.audit_checkpoint_file or self.var_dir / "audit" / "checkpoints.jsonl"


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
