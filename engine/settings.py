"""Settings from flags, environment variables and an optional TOML file.

One module owns every path. ``SCORECHAT_HOME`` relocates all of them (database,
config, logs and the copy of the sample workspace), which the tests use.
Precedence: explicit argument (a CLI flag) > environment variable > config file > default.
"""

from __future__ import annotations

import difflib
import math
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.redact import hide_password, redact

APP_NAME = "scorechat"

APPROVAL_MODES = ("auto", "ask")
THINKING_MODES = ("auto", "on", "off")

#: The Anthropic model used when nothing else is configured: the current Sonnet
#: (Anthropic's models overview, checked 2026-12-01; Sonnet 5 is marked legacy there).
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-5-5"
#: The Ollama model used when nothing else is configured.
DEFAULT_OLLAMA_MODEL = "qwen3:8b"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
#: The broker a worker and `message --broker` use when nothing else is configured.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


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


@dataclass(frozen=True, kw_only=True)
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
    """The SQLite database file (used when ``db_url`` is not set)."""
    db_url: str | None = None
    """A ``postgresql://`` URL: the PostgreSQL store instead of the SQLite file."""
    workspace: Path
    """The folder holding ``<Scorecard>/<Score>.yaml`` files."""
    # The settings of the table ``SETTINGS`` below (defaults and help live there).
    provider: str | None
    model: str | None
    script: Path | None
    approval: str
    thinking: str
    ollama_host: str
    ollama_timeout: float
    ollama_model: str | None
    ollama_num_ctx: int
    anthropic_base_url: str | None
    max_tool_rounds: int
    history_turns: int
    view_max_chars: int
    retry_attempts: int
    retry_base_delay: float
    broker_url: str
    result_backend: str | None
    task_time_limit: float
    samples_copied: bool = False
    """True when this load made the copy of the sample scorecards (the first run)."""

    @property
    def anthropic_api_key(self) -> str | None:
        """Read from the environment on demand so that it is never stored anywhere."""
        return _env("ANTHROPIC_API_KEY", dict(os.environ))

    @property
    def database(self) -> str | Path:
        """What ``Store.open`` takes: the PostgreSQL URL, else the SQLite file."""
        return self.db_url or self.db_path

    @property
    def database_label(self) -> str:
        """The database as it may be shown (a URL without its password)."""
        return hide_password(self.db_url) if self.db_url else str(self.db_path)

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
    import tomllib  # only with a config file: most launches have none

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


def _as_url(name: str, value: Any, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """A URL of one of ``schemes`` with a valid port, or one sentence naming the setting."""
    from urllib.parse import urlsplit

    text = str(value).strip()
    shown = redact(text)
    try:
        parts = urlsplit(text if "://" in text else f"{schemes[0]}://{text}")
        port = parts.port
    except ValueError:
        raise UsageError(f"{name} is not a valid URL: {shown!r}.") from None
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise UsageError(f"{name} must be a {wanted} URL, not {shown!r}.")
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"{name} has the port {port}, which is not between 1 and 65535.")
    return text


def _choice(*choices: str, lower: bool = False) -> Callable[[str, Any], str]:
    def parse(name: str, value: Any) -> str:
        text = str(value).lower() if lower else str(value)
        if text not in choices:
            raise UsageError(f"{name} must be one of {', '.join(choices)}, not {text!r}.")
        return text

    return parse


def _provider_name(name: str, value: Any) -> str:
    from engine.providers.registry import PROVIDERS

    if str(value) not in PROVIDERS:
        raise UsageError(f"Unknown provider {value!r}: choose one of {', '.join(PROVIDERS)}.")
    return str(value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):  # a config file's number, list or table
        raise UsageError(f"{name} must be text in quotes, not {value!r}.")
    return value


def _path(name: str, value: Any) -> Path:
    return value if isinstance(value, Path) else Path(_text(name, value))


def _integer(minimum: int = 0, maximum: int = 1_000_000) -> Callable[[str, Any], int]:
    return lambda name, value: _as_int(name, value, minimum, maximum)


def _seconds(allow_zero: bool = False) -> Callable[[str, Any], float]:
    return lambda name, value: _as_float(name, value, allow_zero=allow_zero)


def _url(*schemes: str) -> Callable[[str, Any], str]:
    return lambda name, value: _as_url(name, value, schemes or ("http", "https"))


@dataclass(frozen=True)
class Setting:
    """One setting: where it is read from, its default, how it is checked, its help."""

    field: str
    """The ``Settings`` attribute, and the key in ``config.toml``."""
    env: tuple[str, ...]
    """Environment variables, the first one found wins."""
    default: Any
    parse: Callable[[str, Any], Any]
    """``parse(name, value)``: the checked value, or ``UsageError`` naming ``name``."""
    help: str
    flag: str | None = None
    """The global CLI flag that sets it, when there is one."""


#: Every setting read from flags, the environment and the config file, in one place.
#: ``load_settings`` and the CLI's options (their help and environment variables) read it.
SETTINGS: tuple[Setting, ...] = (
    Setting("provider", ("SCORECHAT_PROVIDER",), None, _provider_name,
            "ollama, anthropic or scripted (default: Ollama if it answers, else Claude).",
            "--provider"),
    Setting("model", ("SCORECHAT_MODEL", "CHAT_MODEL"), None, _text,
            "The model to use (default: the provider's own).", "--model"),
    Setting("script", ("SCORECHAT_SCRIPT",), None, _path,
            "JSON script for --provider scripted.", "--script"),
    Setting("approval", ("SCORECHAT_APPROVAL",), "auto", _choice(*APPROVAL_MODES),
            "auto (apply edits at once) or ask.", "--approval"),
    Setting("thinking", ("SCORECHAT_THINKING",), "auto", _choice(*THINKING_MODES, lower=True),
            "Extended thinking: auto (the model's default), on or off."),
    Setting("ollama_host", ("OLLAMA_HOST",), DEFAULT_OLLAMA_HOST, _url(),
            "Where the Ollama server listens."),
    Setting("ollama_timeout", ("OLLAMA_TIMEOUT",), 300.0, _seconds(),
            "Seconds an Ollama request may take."),
    Setting("ollama_model", ("OLLAMA_MODEL",), None, _text,
            "The Ollama model when no other model is named."),
    Setting("ollama_num_ctx", ("OLLAMA_NUM_CTX",), 16_384, _integer(2048, 2_000_000),
            "The largest context window asked of Ollama (options.num_ctx)."),
    Setting("anthropic_base_url", ("ANTHROPIC_BASE_URL",), None, _url(),
            "Where the Anthropic API answers (default: Anthropic's own)."),
    Setting("max_tool_rounds", ("SCORECHAT_MAX_TOOL_ROUNDS",), 8, _integer(1),
            "How many rounds of tool calls one turn may take."),
    Setting("history_turns", ("SCORECHAT_HISTORY_TURNS",), 10, _integer(),
            "How many earlier turn pairs go into the prompt."),
    Setting("view_max_chars", ("SCORECHAT_VIEW_MAX_CHARS",), 40_000, _integer(1000),
            "The editor's view output is cut beyond this many characters."),
    Setting("retry_attempts", ("SCORECHAT_RETRY_ATTEMPTS",), 3, _integer(1),
            "How many times a transient provider failure is tried in all."),
    Setting("retry_base_delay", ("SCORECHAT_RETRY_BASE_DELAY",), 1.0, _seconds(allow_zero=True),
            "The first retry's wait in seconds; doubles with each attempt."),
    Setting("broker_url", ("SCORECHAT_BROKER_URL",), DEFAULT_BROKER_URL,
            _url("redis", "rediss", "amqp", "amqps"),
            "The Celery broker the worker and `message --broker` use.", "--broker"),
    Setting("result_backend", ("SCORECHAT_RESULT_BACKEND",), None,
            _url("redis", "rediss", "rpc", "db+postgresql", "db+sqlite"),
            "Where task results are kept (default: the broker)."),
    Setting("task_time_limit", ("SCORECHAT_TASK_TIME_LIMIT",), 600.0, _seconds(),
            "Seconds a worker gives one turn before cancelling it as Esc would."),
)  # fmt: skip

SETTING = {setting.field: setting for setting in SETTINGS}

#: The settings that say where things are. ``load_settings`` reads them before the
#: others (where the config file is depends on them) and resolves each its own way.
PLACES: tuple[Setting, ...] = (
    Setting("workspace", ("SCORECHAT_WORKSPACE",), None, _text,
            "Folder of <Scorecard>/<Score>.yaml files.", "--workspace"),
    Setting("home", ("SCORECHAT_HOME",), None, _text,
            "Keep the database, config and logs under this folder.", "--home"),
    Setting("database", ("SCORECHAT_DB",), None, _text,
            "The SQLite database file, or a postgresql:// URL (a store shared by a team).",
            "--db"),
)  # fmt: skip

PLACE = {place.field: place for place in PLACES}
#: What a config file may set: every setting, the workspace and the database (``home``
#: holds the config file, so it cannot be set in it).
CONFIG_KEYS = frozenset({*SETTING, "workspace", "database"})


def setting_help(name: str) -> str:
    """The help text of a setting, with its environment variable (for CLI options)."""
    setting = SETTING[name]
    return f"{setting.help} [env: {setting.env[0]}]"


def load_settings(
    *,
    home: str | Path | None = None,
    workspace: str | Path | None = None,
    db_path: str | Path | None = None,
    environ: dict[str, str] | None = None,
    cwd: Path | None = None,
    **explicit: Any,
) -> Settings:
    """Build the settings. Explicit arguments (any field of ``SETTINGS``) win over the
    environment, which wins over the config file, which wins over the defaults.

    Loading never writes anything: copying the sample workspace on the first run is
    ``prepare_workspace``, an explicit step the front ends take.
    """
    unknown = set(explicit) - set(SETTING)
    if unknown:
        raise TypeError(f"load_settings() got unknown settings: {', '.join(sorted(unknown))}")
    env = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()

    home_value = home or _env(PLACE["home"].env[0], env)
    home_path = Path(home_value).expanduser().resolve() if home_value else None
    if home_path is not None:
        data_dir, config_dir, log_dir = home_path / "data", home_path / "config", home_path / "logs"
    else:
        import platformdirs

        data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        config_dir = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
        log_dir = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))

    named_config = _env("SCORECHAT_CONFIG", env)
    config_path = Path(named_config).expanduser() if named_config else config_dir / "config.toml"
    if named_config and not config_path.is_file():
        # The default file may be missing (no config); one named on purpose may not.
        raise UsageError(f"SCORECHAT_CONFIG names {config_path}, which is not a file.")
    config = _read_config(config_path)
    _check_config_keys(config, config_path)

    def pick(arg: Any, env_names: tuple[str, ...], key: str) -> tuple[Any, str]:
        """The value and the name of where it came from (for a sentence naming it)."""
        if arg not in (None, ""):
            return arg, SETTING[key].flag or key if key in SETTING else key
        for env_name in env_names:
            if (value := _env(env_name, env)) is not None:
                return value, env_name
        if key in config:
            return config[key], f"{key} in {config_path}"
        return None, key

    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw, source = pick(explicit.get(setting.field), setting.env, setting.field)
        if raw is None:
            values[setting.field] = setting.default
        else:
            values[setting.field] = setting.parse(source, raw)

    def place(arg: Any, name: str) -> str | Path | None:
        """Where a place is: a flag's path, or text from a variable or the config file."""
        value, source = pick(arg, PLACE[name].env, name)
        return value if value is None or isinstance(value, Path) else _text(source, value)

    db_value = place(db_path, "database")
    db_url = _database_url(str(db_value)) if _names_url(db_value) else None
    db = Path(db_value).expanduser() if db_value and db_url is None else data_dir / "scorechat.db"
    workspace_value = place(workspace, "workspace")

    return Settings(
        home=home_path,
        data_dir=data_dir,
        config_dir=config_dir,
        log_dir=log_dir,
        db_path=db,
        db_url=db_url,
        workspace=_resolve_workspace(workspace_value, cwd, data_dir),
        **values,
    )


def _check_config_keys(config: dict[str, Any], path: Path) -> None:
    """A key the config file holds that is no setting (a typo, most often) is said, with
    the setting it probably meant, rather than ignored."""
    for key in config:
        if key == "home":
            raise UsageError(
                f"home cannot be set in {path} (the config file is found through it): "
                "use --home or SCORECHAT_HOME."
            )
        if key == "anthropic_api_key":
            raise UsageError(
                f"The Anthropic key is read from ANTHROPIC_API_KEY only, never from a file: "
                f"remove it from {path}."
            )
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, sorted(CONFIG_KEYS), n=1)
            hint = (
                f"did you mean {close[0]}?" if close
                else f"the settings are {', '.join(sorted(CONFIG_KEYS))}."
            )  # fmt: skip
            raise UsageError(f"{key} in {path} is no setting of scorechat: {hint}")


def _names_url(value: Any) -> bool:
    return isinstance(value, str) and "://" in value


def _database_url(value: str) -> str:
    """A PostgreSQL URL, checked for its form (whether it answers is the store's to say)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise UsageError(f"The database URL {redact(value)} is not a valid URL.") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise UsageError(f"The database {redact(value)} is neither a file nor a postgresql:// URL.")
    if not parts.path.strip("/") and not parts.hostname:
        raise UsageError(f"The database URL {redact(value)} names no host or database.")
    return value


def _resolve_workspace(value: Any, cwd: Path, data_dir: Path) -> Path:
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
    return copy.resolve() if copy.exists() else copy


def prepare_workspace(settings: Settings) -> Settings:
    """The first-run step: copy the sample scorecards into the data folder when the
    settings point there and no copy exists yet (once; later runs never overwrite it).

    Returns the settings to use: ``samples_copied`` is set when this call made the copy,
    and on a read-only data folder the bundled samples are read where they are.
    """
    copy = settings.data_dir / "scorecards"
    if settings.workspace != copy or copy.is_dir():
        return settings
    source = bundled_data_dir() / "scorecards"
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        staging = copy.with_name(".scorecards-copying")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        os.replace(staging, copy)  # the copy appears whole or not at all
    except OSError:
        # A read-only data folder: read the bundled samples where they are.
        return replace(settings, workspace=source.resolve())
    return replace(settings, workspace=copy.resolve(), samples_copied=True)
