"""Simulator settings from environment variables; most can be changed at run time via /_sim/config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_API_KEY = "recado-simulator-global-key"
DEFAULT_PORT = 8081
STATUSES = ("SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


def _statuses(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return default
    chosen = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    unknown = [status for status in chosen if status not in STATUSES]
    if unknown:
        raise ValueError(f"unknown statuses {unknown}; use {','.join(STATUSES)}")
    return chosen


def _env_statuses(env: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return _statuses(env.get("SIMULATOR_AUTO_STATUS"), ("SERVER_ACK", "DELIVERY_ACK", "READ"))
    except ValueError as exc:
        raise SystemExit(f"SIMULATOR_AUTO_STATUS: {exc}") from None


@dataclass
class SimulatorConfig:
    """Everything tunable; the runtime-mutable part is listed in RUNTIME_FIELDS."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str = DEFAULT_API_KEY
    public_url: str = ""
    qr_interval: float = 20.0
    qr_limit: int = 30
    auto_status: tuple[str, ...] = ("SERVER_ACK", "DELIVERY_ACK", "READ")
    status_delay: float = 1.0
    webhook_retry_delay: float = 5.0
    webhook_max_delay: float = 300.0
    webhook_max_attempts: int = 10
    webhook_timeout: float = 30.0
    date_time_offset_hours: float = -3.0
    whatsapp_reachable: bool = True
    offline_close_after: float = 3.0
    latency_ms: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> SimulatorConfig:
        """Read SIMULATOR_* variables, then apply explicit overrides (command-line flags)."""
        env = os.environ if env is None else env
        config = cls(
            host=env.get("SIMULATOR_HOST", "127.0.0.1"),
            port=int(_float(env, "SIMULATOR_PORT", DEFAULT_PORT)),
            api_key=env.get("SIMULATOR_API_KEY") or DEFAULT_API_KEY,
            public_url=env.get("SIMULATOR_PUBLIC_URL", ""),
            qr_interval=_float(env, "SIMULATOR_QR_INTERVAL", 20.0),
            qr_limit=int(_float(env, "SIMULATOR_QR_LIMIT", 30)),
            auto_status=_env_statuses(env),
            status_delay=_float(env, "SIMULATOR_STATUS_DELAY", 1.0),
            webhook_retry_delay=_float(env, "SIMULATOR_WEBHOOK_RETRY_DELAY", 5.0),
            webhook_max_delay=_float(env, "SIMULATOR_WEBHOOK_MAX_DELAY", 300.0),
            webhook_max_attempts=int(_float(env, "SIMULATOR_WEBHOOK_MAX_ATTEMPTS", 10)),
            webhook_timeout=_float(env, "SIMULATOR_WEBHOOK_TIMEOUT", 30.0),
            date_time_offset_hours=_float(env, "SIMULATOR_DATE_TIME_OFFSET_HOURS", -3.0),
        )
        for name, value in overrides.items():
            if value is not None:
                setattr(config, name, value)
        if not config.public_url:
            config.public_url = f"http://{config.host}:{config.port}"
        return config

    def public(self) -> dict[str, Any]:
        """The settings as JSON (without the API key)."""
        data = asdict(self)
        data.pop("api_key")
        data["auto_status"] = list(self.auto_status)
        return data

    def update(self, changes: Mapping[str, Any]) -> list[str]:
        """Apply run-time changes (ValueError on a bad value); returns the names it does not know."""
        rejected = []
        types = {item.name: item.type for item in fields(self)}
        for name, value in changes.items():
            if name not in RUNTIME_FIELDS:
                rejected.append(name)
                continue
            if name == "auto_status":
                value = _statuses(",".join(value) if isinstance(value, list) else str(value), ())
            elif types[name] in ("float", float):
                value = float(value)
            elif types[name] in ("int", int):
                value = int(value)
            elif types[name] in ("bool", bool):
                value = bool(value)
            setattr(self, name, value)
        return rejected


RUNTIME_FIELDS = (
    "qr_interval",
    "qr_limit",
    "auto_status",
    "status_delay",
    "webhook_retry_delay",
    "webhook_max_delay",
    "webhook_max_attempts",
    "webhook_timeout",
    "date_time_offset_hours",
    "whatsapp_reachable",
    "offline_close_after",
    "latency_ms",
)
