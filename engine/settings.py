"""Settings from flags, environment variables and an optional TOML file.

One module owns every path. ``SCORECHAT_HOME`` relocates all of them (database,
config, logs and the copy of the sample workspace), which the tests use.
Precedence: explicit argument (a CLI flag) > environment variable > config file > default.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.redact import redact

APP_NAME = "scorechat"

PROVIDERS = ("ollama", "anthropic", "scripted")
APPROVAL_MODES = ("auto", "ask")
THINKING_MODES = ("auto", "on", "off")

#: The Anthropic model used when nothing else is configured: the current Sonnet
#: (Anthropic's models overview, checked 2026-12-01; Sonnet 5 is marked legacy there).
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-5-5"
#: The Ollama model used when nothing else is configured.
DEFAULT_OLLAMA_MODEL = "qwen3:8b"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def bundled_data_dir() -> Path:
    """The sample scorecards and docs shipped with scorechat."""
    candidates = [
        Path(__file__).resolve().parent.parent / "data",  # a source checkout or editable install
        Path(sys.prefix) / "share" / APP_NAME / "data",  # a wheel install
    ]
    for candidate in candidates:
        if (candidate / "scorecards").is_dir():
            return candidate
    return candidates[0]


def _env(name: str, environ: dict[str, str]) -> str | None:
    value = environ.get(name)
    return value if value not in (None, "") else None


@dataclass(frozen=True)
class Settings:
    """Everything the engine and the front ends are configured with."""

    home: Path | None
    """``SCORECHAT_HOME`` when set: every path below lives under it."""
    data_dir: Path
    """Where the database and the copy of the samples live."""
    config_dir: Path
    """Where ``config.toml`` is read from."""
    log_dir: Path
    """Where log files are written."""
    db_path: Path
    """The SQLite database file."""
    workspace: Path
    """The folder holding ``<Scorecard>/<Score>.yaml`` files."""
    provider: str | None = None
    """``ollama``, ``anthropic`` or ``scripted``; ``None`` chooses automatically."""
    model: str | None = None
    """The model name; ``None`` takes the provider's default."""
    ollama_host: str = DEFAULT_OLLAMA_HOST
    """Where the Ollama server listens."""
    ollama_timeout: float = 300.0
    """Seconds an Ollama request may take."""
    ollama_model: str | None = None
    """``OLLAMA_MODEL``: the Ollama model when no other model is named."""
    ollama_num_ctx: int = 16_384
    """``OLLAMA_NUM_CTX``: the largest context window asked of Ollama (``options.num_ctx``)."""
    anthropic_base_url: str | None = None
    """``ANTHROPIC_BASE_URL`` when set."""
    script: Path | None = None
    """The JSON script the scripted provider replays."""
    approval: str = "auto"
    """``auto`` applies edits at once; ``ask`` asks before each edit (TUI)."""
    thinking: str = "auto"
    """``SCORECHAT_THINKING``: ``auto`` (the model's default), ``on`` or ``off``."""
    max_tool_rounds: int = 8
    """How many rounds of tool calls one turn may take."""
    history_turns: int = 10
    """How many earlier user/assistant turn pairs go into the prompt."""
    view_max_chars: int = 40_000
    """The editor's ``view`` output is cut beyond this many characters."""
    retry_attempts: int = 3
    """How many times a transient provider failure is tried in all."""
    retry_base_delay: float = 1.0
    """The first retry's wait in seconds; doubles with each attempt."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Unrecognised config keys, kept for diagnostics."""
    samples_copied: bool = False
    """True when this load made the copy of the sample scorecards (the first run)."""

    @property
    def anthropic_api_key(self) -> str | None:
        """Read from the environment on demand so that it is never stored anywhere."""
        return _env("ANTHROPIC_API_KEY", dict(os.environ))

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def docs_dir(self) -> Path:
        return bundled_data_dir() / "docs"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"The config file {path} cannot be read: {exc}.") from None
    return data


def _as_int(name: str, value: Any, minimum: int = 0, maximum: int = 1_000_000) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise UsageError(f"{name} must be a whole number, not {value!r}.")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise UsageError(f"{name} must be at least {minimum}, not {number}.")
    if number > maximum:
        raise UsageError(f"{name} must be at most {maximum}, not {number}.")
    return number


def _as_float(name: str, value: Any, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{name} must be a number of seconds, not {value!r}.") from None
    if not math.isfinite(number):
        raise UsageError(f"{name} must be a finite number of seconds, not {value!r}.")
    if number < 0 or (number == 0 and not allow_zero):
        raise UsageError(
            f"{name} must be {'zero or more' if allow_zero else 'positive'}, not {value!r}."
        )
    return number


def _as_url(name: str, value: Any) -> str:
    """An http(s) URL with a valid port, or one sentence naming the setting."""
    from urllib.parse import urlsplit

    text = str(value).strip()
    shown = redact(text)
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        port = parts.port
    except ValueError:
        raise UsageError(f"{name} is not a valid URL: {shown!r}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{name} must be an http:// or https:// URL, not {shown!r}.")
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"{name} has the port {port}, which is not between 1 and 65535.")
    return text


def load_settings(
    *,
    home: str | Path | None = None,
    workspace: str | Path | None = None,
    db_path: str | Path | None = None,
    provider: str | None = None,
    model: str | None = None,
    script: str | Path | None = None,
    approval: str | None = None,
    environ: dict[str, str] | None = None,
    cwd: Path | None = None,
    ensure_workspace: bool = True,
) -> Settings:
    """Build the settings. Explicit arguments win over the environment and the config file.

    With ``ensure_workspace`` the sample workspace is copied into the data dir when no
    other workspace is configured (once; later runs reuse and never overwrite it).
    """
    env = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()

    home_value = home or _env("SCORECHAT_HOME", env)
    home_path = Path(home_value).expanduser().resolve() if home_value else None
    if home_path is not None:
        data_dir, config_dir, log_dir = home_path / "data", home_path / "config", home_path / "logs"
    else:
        import platformdirs

        data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        config_dir = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
        log_dir = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))

    config_path = Path(_env("SCORECHAT_CONFIG", env) or config_dir / "config.toml")
    config = _read_config(config_path)

    def pick(arg: Any, env_names: tuple[str, ...], key: str, default: Any = None) -> Any:
        if arg not in (None, ""):
            return arg
        for env_name in env_names:
            if (value := _env(env_name, env)) is not None:
                return value
        return config.get(key, default)

    provider_value = pick(provider, ("SCORECHAT_PROVIDER",), "provider")
    if provider_value is not None and provider_value not in PROVIDERS:
        raise UsageError(
            f"Unknown provider {provider_value!r}: choose one of {', '.join(PROVIDERS)}."
        )
    approval_value = pick(approval, ("SCORECHAT_APPROVAL",), "approval", "auto")
    if approval_value not in APPROVAL_MODES:
        raise UsageError(
            f"Unknown approval mode {approval_value!r}: choose one of {', '.join(APPROVAL_MODES)}."
        )
    model_value = pick(model, ("SCORECHAT_MODEL", "CHAT_MODEL"), "model")
    thinking_value = str(pick(None, ("SCORECHAT_THINKING",), "thinking", "auto")).lower()
    if thinking_value not in THINKING_MODES:
        raise UsageError(
            f"SCORECHAT_THINKING must be one of {', '.join(THINKING_MODES)}, not {thinking_value!r}."
        )
    script_value = pick(script, ("SCORECHAT_SCRIPT",), "script")

    db_value = pick(db_path, ("SCORECHAT_DB",), "database")
    db = Path(db_value).expanduser() if db_value else data_dir / "scorechat.db"

    had_copy = (data_dir / "scorecards").is_dir()
    workspace_path = _resolve_workspace(
        pick(workspace, ("SCORECHAT_WORKSPACE",), "workspace"), cwd, data_dir, ensure_workspace
    )
    samples_copied = not had_copy and workspace_path == (data_dir / "scorecards").resolve()

    known = {
        "provider", "model", "ollama_model", "script", "database", "workspace", "approval", "ollama_host", "ollama_num_ctx", "thinking",
        "ollama_timeout", "max_tool_rounds", "history_turns", "view_max_chars",
        "retry_attempts", "retry_base_delay",
    }  # fmt: skip
    return Settings(
        home=home_path,
        data_dir=data_dir,
        config_dir=config_dir,
        log_dir=log_dir,
        db_path=db,
        workspace=workspace_path,
        provider=provider_value,
        model=model_value,
        ollama_host=_as_url(
            "OLLAMA_HOST", pick(None, ("OLLAMA_HOST",), "ollama_host", DEFAULT_OLLAMA_HOST)
        ),
        ollama_timeout=_as_float(
            "OLLAMA_TIMEOUT", pick(None, ("OLLAMA_TIMEOUT",), "ollama_timeout", 300.0)
        ),
        ollama_model=pick(None, ("OLLAMA_MODEL",), "ollama_model"),
        ollama_num_ctx=_as_int(
            "OLLAMA_NUM_CTX",
            pick(None, ("OLLAMA_NUM_CTX",), "ollama_num_ctx", 16_384),
            minimum=2048,
            maximum=2_000_000,
        ),
        anthropic_base_url=_env("ANTHROPIC_BASE_URL", env),
        script=Path(script_value) if script_value else None,
        approval=approval_value,
        thinking=thinking_value,
        max_tool_rounds=_as_int(
            "max_tool_rounds",
            pick(None, ("SCORECHAT_MAX_TOOL_ROUNDS",), "max_tool_rounds", 8),
            minimum=1,
        ),
        history_turns=_as_int(
            "history_turns", pick(None, ("SCORECHAT_HISTORY_TURNS",), "history_turns", 10)
        ),
        view_max_chars=_as_int(
            "view_max_chars", config.get("view_max_chars", 40_000), minimum=1000
        ),
        retry_attempts=_as_int(
            "retry_attempts",
            pick(None, ("SCORECHAT_RETRY_ATTEMPTS",), "retry_attempts", 3),
            minimum=1,
        ),
        retry_base_delay=_as_float(
            "SCORECHAT_RETRY_BASE_DELAY",
            pick(None, ("SCORECHAT_RETRY_BASE_DELAY",), "retry_base_delay", 1.0),
            allow_zero=True,
        ),
        extra={k: v for k, v in config.items() if k not in known},
        samples_copied=samples_copied,
    )


def _resolve_workspace(value: Any, cwd: Path, data_dir: Path, ensure: bool) -> Path:
    if value:
        path = Path(str(value)).expanduser()
        path = (cwd / path).resolve() if not path.is_absolute() else path.resolve()
        if not path.is_dir():
            raise UsageError(f"The workspace {path} does not exist or is not a folder.")
        return path
    local = cwd / "scorecards"
    if local.is_dir():
        return local.resolve()
    copy = data_dir / "scorecards"
    if ensure and not copy.is_dir():
        source = bundled_data_dir() / "scorecards"
        try:
            copy.parent.mkdir(parents=True, exist_ok=True)
            staging = copy.with_name(".scorecards-copying")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(source, staging)
            os.replace(staging, copy)  # the copy appears whole or not at all
        except OSError:
            # A read-only data folder: read the bundled samples where they are.
            return source.resolve()
    return copy.resolve() if copy.exists() else copy
