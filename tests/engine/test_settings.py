"""Settings come from one table: flags > environment > config file > defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.settings import SETTINGS, Settings, load_settings
from tests.cli.helpers import cli, one_sentence


def test_every_setting_of_the_table_is_a_field_with_its_default(tmp_path: Path) -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {s.field for s in SETTINGS} <= fields
    loaded = load_settings(environ={"SCORECHAT_HOME": str(tmp_path / "h")})
    for setting in SETTINGS:
        assert getattr(loaded, setting.field) == setting.default, setting.field
        assert setting.help.endswith("."), setting.field


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SCORECHAT_RETRY_BASE_DELAY", "abc", "SCORECHAT_RETRY_BASE_DELAY must be a number"),
        ("SCORECHAT_RETRY_BASE_DELAY", "-1", "SCORECHAT_RETRY_BASE_DELAY must be zero or more"),
        ("OLLAMA_TIMEOUT", "0", "OLLAMA_TIMEOUT must be positive"),
        ("SCORECHAT_MAX_TOOL_ROUNDS", "1.5", "SCORECHAT_MAX_TOOL_ROUNDS must be a whole number"),
        ("OLLAMA_NUM_CTX", "12", "OLLAMA_NUM_CTX must be at least 2048"),
        ("SCORECHAT_THINKING", "maybe", "SCORECHAT_THINKING must be one of auto, on, off"),
        ("SCORECHAT_APPROVAL", "never", "SCORECHAT_APPROVAL must be one of auto, ask"),
        ("SCORECHAT_PROVIDER", "gpt", "Unknown provider 'gpt'"),
        ("SCORECHAT_BROKER_URL", "http://x", "SCORECHAT_BROKER_URL must be a redis://"),
        ("OLLAMA_HOST", "ftp://h", "OLLAMA_HOST must be a http:// or https:// URL"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_the_variable(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    with pytest.raises(UsageError, match=says.replace("(", r"\(").replace("+", r"\+")):
        load_settings(environ={"SCORECHAT_HOME": str(tmp_path), variable: value})
    result = cli("sessions", "list", env={variable: value})
    assert result.returncode == 2
    assert says in one_sentence(result)


def test_a_bad_config_value_names_the_key_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('retry_base_delay = "soon"\n')
    with pytest.raises(UsageError) as info:
        load_settings(environ={"SCORECHAT_HOME": str(tmp_path)})
    assert f"retry_base_delay in {config} must be a number of seconds" in str(info.value)


@pytest.mark.parametrize(
    ("line", "said"),
    [("retry_base_dealy = 5", "retry_base_dealy in {config} is no setting of scorechat: did you mean retry_base_delay?"),
     ("[ollama]\nhost = 5", "ollama in {config} is no setting of scorechat: did you mean ollama_host?"),
     ("zzz = 1", "zzz in {config} is no setting of scorechat: the settings are anthropic_base_url,"),
     ('home = "/x"', "home cannot be set in {config}"),
     ('anthropic_api_key = "sk-ant-x"', "read from ANTHROPIC_API_KEY only, never from a file: remove it from {config}"),
     ('model = ["a"]', "model in {config} must be text in quotes, not ['a']."),
     ("workspace = 3", "workspace in {config} must be text in quotes, not 3."),
     ("database = 5", "database in {config} must be text in quotes, not 5.")],
)  # fmt: skip
def test_a_config_key_that_is_no_setting_or_no_text_is_said(
    tmp_path: Path, line: str, said: str
) -> None:
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(line + "\n")
    with pytest.raises(UsageError) as info:
        load_settings(environ={"SCORECHAT_HOME": str(tmp_path)})
    assert said.format(config=config) in str(info.value)


def test_every_config_key_that_is_a_setting_is_taken(tmp_path: Path) -> None:
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'model = "m"\ndatabase = "{tmp_path / "s.db"}"\nmax_tool_rounds = 2\n')
    settings = load_settings(environ={"SCORECHAT_HOME": str(tmp_path)})
    assert (settings.model, settings.db_path, settings.max_tool_rounds) == (
        "m", tmp_path / "s.db", 2,
    )  # fmt: skip


def test_a_flag_wins_and_is_named_when_bad(tmp_path: Path) -> None:
    env = {"SCORECHAT_HOME": str(tmp_path), "SCORECHAT_APPROVAL": "ask"}
    assert load_settings(environ=env, approval="auto").approval == "auto"
    with pytest.raises(UsageError, match="--approval must be one of auto, ask"):
        load_settings(environ=env, approval="later")


def test_loading_settings_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    settings = load_settings(environ={"SCORECHAT_HOME": str(home)}, cwd=tmp_path)
    assert settings.workspace == home / "data" / "scorecards"
    assert not home.exists()


def test_global_flags_take_their_help_from_the_table() -> None:
    result = cli("--help")
    text = " ".join(result.stdout.split())
    assert "[env: SCORECHAT_PROVIDER]" in text and "[env: SCORECHAT_APPROVAL]" in text


def test_a_config_file_named_on_purpose_must_be_there(tmp_path: Path) -> None:
    env = {"SCORECHAT_HOME": str(tmp_path), "SCORECHAT_CONFIG": str(tmp_path / "nope.toml")}
    with pytest.raises(
        UsageError, match=r"SCORECHAT_CONFIG names .*nope\.toml, which is not a file"
    ):
        load_settings(environ=env)
    (tmp_path / "nope.toml").write_text('model = "m"\n')
    assert load_settings(environ=env).model == "m"
    assert load_settings(environ={"SCORECHAT_HOME": str(tmp_path)}).model is None  # none: fine
