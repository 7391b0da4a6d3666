"""The ``scorechat`` command line, run in-process (``cli``) and, where a real process
matters, as one (``cli_process``)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cli.helpers import cli, one_sentence, scripted_message

GREETING = "Customer Service QA/Greeting.yaml"


def test_scores_list_json(workspace: Path) -> None:
    result = cli("--workspace", str(workspace), "scores", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 13
    assert set(rows[0]) == {"scorecard", "score", "key", "id", "class", "path"}
    greeting = next(r for r in rows if r["score"] == "Greeting")
    assert greeting["path"] == str(workspace / GREETING) and greeting["class"] == "LangGraphScore"


def test_scores_list_counts_lines_as_a_sentence_does(workspace: Path) -> None:
    (workspace / "Customer Service QA" / "One.yaml").write_text("name: One Liner\n")
    result = cli("--workspace", str(workspace), "scores", "list")
    listed = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "Customer Service QA One Liner [?, 1 line]" in listed
    assert "Customer Service QA Greeting [LangGraphScore, 32 lines]" in listed


def test_scores_list_uses_bundled_samples_by_default(tmp_path: Path) -> None:
    result = cli("scores", "list")
    assert result.returncode == 0 and "Sentiment Analysis" in result.stdout
    assert (tmp_path / "home" / "data" / "scorecards" / "Customer Service QA").is_dir()


def test_workspace_env_twin(workspace: Path) -> None:
    (workspace / "Customer Service QA" / "Greeting.yaml").unlink()
    result = cli("scores", "list", env={"SCORECHAT_WORKSPACE": str(workspace)})
    assert "Greeting" not in result.stdout and "Sentiment" in result.stdout


def test_scores_show(workspace: Path) -> None:
    result = cli("-w", str(workspace), "scores", "show", "senti")
    assert result.returncode == 0
    assert (
        result.stdout == (workspace / "Customer Service QA" / "Sentiment Analysis.yaml").read_text()
    )


def test_check_ok_warning_and_broken(workspace: Path, corpus: Path) -> None:
    ok = cli("-w", str(workspace), "check", "greeting")
    assert ok.returncode == 0 and "valid YAML, no warnings" in ok.stdout
    for path in sorted(corpus.rglob("*.yaml")):
        result = cli("check", str(path))
        assert result.returncode == 0, (path, result.stderr)
    warn = workspace / "w.yaml"
    warn.write_text("name: W\nclass: LangGraphScore\ngraph:\n  - name: a\n    class: Classifier\n")
    warned = cli("-w", str(workspace), "check", str(warn))
    assert (
        warned.returncode == 0
        and "warning: graph[0] (a) is a Classifier without `valid_classes`" in warned.stdout
    )
    broken = workspace / "Customer Service QA" / "Broken.yaml"
    broken.write_text("name: Broken\ngraph:\n  - name: a\n   class: X\n")
    result = cli("-w", str(workspace), "check", str(broken))
    assert result.returncode == 1
    line = one_sentence(result)
    assert "Broken.yaml: Invalid YAML (line 4, column" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [(["check", "nope"], "No score matches 'nope'"),
     (["check", "/no/such.yaml"], "/no/such.yaml does not exist, and no score has that name"),
     (["check", "disclosure"], "ambiguous: did you mean"),
     (["scores", "show", "greeting", "--scorecard", "zzz"], "No scorecard matches"),
     (["--workspace", "/does/not/exist", "scores", "list"], "does not exist"),
     (["scores", "list", "--bogus"], "No such option: --bogus"),
     (["sessions", "show", "abc123"], "No session has the id 'abc123'"),
     (["sessions", "list", "--limit", "x"], "Invalid value for '--limit'"),
     (["sessions", "list", "--status", "weird"], "Unknown status"),
     (["sessions", "export", "abc", "--format", "pdf"], "Unknown format 'pdf'"),
     (["sessions", "search", "  "], "Give some words"),
     (["versions", "show", "999"], "No version has the id 999"),
     (["versions", "restore", "999"], "No version has the id 999"),
     (["undo", "--session", "nope"], "No session has the id"),
     (["message", "hi"], "Name the score with --score"),
     (["message", "  ", "--score", "greeting"], "The message is empty"),
     (["message", "hi", "--score", "greeting", "--provider", "gpt"], "Unknown provider 'gpt'"),
     (["message", "hi", "--score", "greeting", "--provider", "scripted"], "needs a script"),
     (["message", "hi", "--score", "greeting", "--provider", "scripted", "--script", "missing.json"], "does not exist"),
     (["--score", "zzz"], "No score matches 'zzz'"),
     (["--session", "nope"], "No session has the id 'nope'"),
     (["bogus-command"], "No such command")],
)  # fmt: skip
def test_bad_input_is_one_sentence_and_exit_2(
    workspace: Path, args: list[str], message: str
) -> None:
    result = cli("-w", str(workspace), *args) if "--workspace" not in args else cli(*args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert message in one_sentence(result)


def test_every_command_ends_an_unexpected_error_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tui import cli as root
    from tui.cli.common import Group

    # Every group registers its commands through Group, which wraps each one.
    assert isinstance(root.app, Group)
    assert all(isinstance(g.typer_instance, Group) for g in root.app.registered_groups)
    # A bug in a command is one sentence and exit 1, not a traceback.
    monkeypatch.setattr("engine.workspace.Workspace.scores", lambda self: 1 / 0)
    monkeypatch.delenv("SCORECHAT_DEBUG", raising=False)
    result = cli("scores", "list")
    assert result.returncode == 1
    assert "Unexpected error: ZeroDivisionError" in one_sentence(result)


def test_corrupt_database_is_one_sentence(workspace: Path, tmp_path: Path) -> None:
    db = tmp_path / "bad.db"
    db.write_bytes(b"garbage" * 1000)
    result = cli("-w", str(workspace), "--db", str(db), "sessions", "list")
    assert result.returncode == 1
    assert "damaged" in one_sentence(result)


def message(
    workspace: Path, server: Any, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return cli(
        "-w", str(workspace), "message", "set model_name to gpt-4o", "--scorecard", "customer",
        "--score", "greeting", *extra, env={"OLLAMA_HOST": server.url, **(env or {})},
    )  # fmt: skip


def test_message_json_with_ollama(workspace: Path, ollama_server: Any) -> None:
    result = message(workspace, ollama_server, "--provider", "ollama", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"chat_id", "message", "responses", "changes", "usage", "logs"}
    assert out["message"] == "set model_name to gpt-4o"
    kinds = [r["type"] for r in out["responses"]]
    assert kinds == ["ai_message", "tool_result", "ai_message"]
    tool = out["responses"][1]
    assert (
        tool["tool"] == "str_replace_editor"
        and tool["command"] == "str_replace"
        and tool["is_error"] is False
    )
    assert tool["input"]["new_str"] == "model_name: gpt-4o"
    assert out["changes"][0]["path"] == GREETING and out["changes"][0]["key_paths"] == [
        "model_name"
    ]
    assert "+model_name: gpt-4o" in out["changes"][0]["diff"]
    assert out["usage"]["input_tokens"] > 0
    assert "model_name: gpt-4o\n" in (workspace / GREETING).read_text()
    shown = cli("sessions", "show", out["chat_id"])
    assert shown.returncode == 0
    assert (
        "set model_name to gpt-4o" in shown.stdout
        and "Tool call `str_replace`" in shown.stdout
        and "### Edit 1: str_replace" in shown.stdout
        and "+model_name: gpt-4o" in shown.stdout
        and "Done." in shown.stdout
    )
    as_json = json.loads(cli("sessions", "show", out["chat_id"], "--json").stdout)
    assert [m["role"] for m in as_json["messages"]] == ["user", "assistant", "tool", "assistant"]


def test_message_json_with_anthropic(workspace: Path, anthropic_server: Any) -> None:
    result = message(
        workspace,
        anthropic_server,
        "--provider",
        "anthropic",
        "--json",
        env={"ANTHROPIC_BASE_URL": anthropic_server.url, "ANTHROPIC_API_KEY": "test-key"},
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [r["type"] for r in out["responses"]] == ["ai_message", "tool_result", "ai_message"]
    assert out["usage"]["cost_usd"] > 0
    assert "test-key" not in result.stdout
    assert "model_name: gpt-4o\n" in (workspace / GREETING).read_text()


def test_message_for_a_person_streams_text(workspace: Path, ollama_server: Any) -> None:
    result = message(workspace, ollama_server, "--provider", "ollama")
    assert result.returncode == 0
    assert result.stdout.startswith("I'll set `model_name` to `gpt-4o`.")
    assert "[str_replace Customer Service QA/Greeting.yaml]" in result.stderr
    assert "Changed Customer Service QA/Greeting.yaml: model_name" in result.stderr


def test_message_failed_turn_exits_1_with_error_json(workspace: Path, ollama_server: Any) -> None:
    result = message(
        workspace, ollama_server, "--provider", "ollama", "--model", "missing:7b", "--json"
    )
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert (
        out["responses"][-1]["type"] == "error"
        and "ollama pull missing:7b" in out["responses"][-1]["content"]
    )


def test_message_without_any_model(workspace: Path) -> None:
    result = cli("-w", str(workspace), "message", "hi", "--score", "greeting", "--json")
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert "No model is available" in out["responses"][0]["content"]


def test_message_dash_reads_standard_input(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([[{"type": "text", "text": "Read it."}]]))
    piped = "first line of a long request\nsecond line, with `markup` [b]x[/b]\n"
    result = cli("-w", str(workspace), *scripted_message("-", script), input=piped)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["message"] == piped and out["responses"][0]["content"] == "Read it."
    # What cannot be a message is one sentence, and nothing is stored.
    for bad, says in ((b"\xff\xfeab", "not UTF-8 text"), (b" \n", "The message is empty")):
        result = cli("-w", str(workspace), *scripted_message("-", script), input=bad)
        assert result.returncode == 2 and says in one_sentence(result)
    listed = cli("-w", str(workspace), "sessions", "list", "--json")
    assert len(json.loads(listed.stdout)) == 1


def test_scripted_provider_and_session_commands(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        [{"type": "text", "text": "Raising it."},
         {"type": "tool_use", "name": "str_replace_editor", "input": {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 250"}}],
        [{"type": "text", "text": "The refund limit is now 250."}],
    ]))  # fmt: skip
    original = (workspace / GREETING).read_bytes()
    result = cli("-w", str(workspace), *scripted_message("raise the limit", script))
    assert result.returncode == 0, result.stderr
    chat_id = json.loads(result.stdout)["chat_id"]
    base = ["-w", str(workspace)]

    listed = json.loads(cli(*base, "sessions", "list", "--json").stdout)
    assert listed[0]["id"] == chat_id and listed[0]["message_count"] == 3
    hits = json.loads(cli(*base, "sessions", "search", "refund", "--json").stdout)
    assert hits[0]["session_id"] == chat_id and "**refund**" in hits[0]["snippet"].lower()
    assert cli(*base, "sessions", "rename", chat_id[:5], "Limit work").returncode == 0
    assert json.loads(cli(*base, "sessions", "list", "--json").stdout)[0]["title"] == "Limit work"

    out_md = tmp_path / "s.md"
    assert cli(*base, "sessions", "export", chat_id, "-o", str(out_md)).returncode == 0
    assert (
        out_md.read_text().startswith("# Limit work")
        and "The refund limit is now 250." in out_md.read_text()
    )
    exported = json.loads(cli(*base, "sessions", "export", chat_id, "--format", "json").stdout)
    assert exported["edits"][0]["command"] == "str_replace"
    # Through a link to the file it names (the link stays); into a pipe as a stream (it
    # stays a pipe: an atomic write once put a plain file where /dev/full was).
    link = tmp_path / "latest.md"
    link.symlink_to(out_md)
    out_md.write_text("old")
    assert cli(*base, "sessions", "export", chat_id, "-o", str(link)).returncode == 0
    assert link.is_symlink() and out_md.read_text().startswith("# Limit work")
    dangling = tmp_path / "next.md"
    dangling.symlink_to(tmp_path / "made-by-the-export.md")
    assert cli(*base, "sessions", "export", chat_id, "-o", str(dangling)).returncode == 0
    assert dangling.is_symlink() and dangling.read_text().startswith("# Limit work")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = subprocess.Popen(["cat", str(pipe)], stdout=subprocess.PIPE, text=True)
    assert cli(*base, "sessions", "export", chat_id, "-o", str(pipe)).returncode == 0
    assert reader.communicate(timeout=10)[0].startswith("# Limit work")
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    unread = cli(*base, "sessions", "export", chat_id, "-o", str(pipe))  # waits for no reader
    assert unread.returncode == 2 and "Nothing is reading" in one_sentence(unread)
    nowhere = cli(*base, "sessions", "export", chat_id, "-o", str(tmp_path / "gone" / "s.md"))
    assert nowhere.returncode == 2  # it named only the missing folder's last part
    assert f"the folder {tmp_path / 'gone'} does not exist" in one_sentence(nowhere)

    saved = cli(*base, "versions", "save", "greeting", "--note", "limit 250")
    assert saved.returncode == 0 and "Saved version 1" in saved.stdout
    versions = json.loads(cli(*base, "versions", "list", "greeting", "--json").stdout)
    assert versions[0]["note"] == "limit 250"

    undone = cli(*base, "undo", "--session", chat_id)
    assert undone.returncode == 0 and "Undid the last str_replace" in undone.stdout
    assert (workspace / GREETING).read_bytes() == original
    again = cli(*base, "undo", "--session", chat_id)
    assert again.returncode == 2 and "no edits to undo" in one_sentence(again)

    restored = cli(*base, "versions", "restore", "1")
    assert restored.returncode == 0 and "limit: 250" in (workspace / GREETING).read_text()
    assert cli(*base, "versions", "show", "1").stdout == (workspace / GREETING).read_text()

    assert cli(*base, "sessions", "end", chat_id).returncode == 0
    assert (
        json.loads(cli(*base, "sessions", "list", "--status", "ended", "--json").stdout)[0]["id"]
        == chat_id
    )
    refused = cli(*base, "sessions", "delete", chat_id)
    assert refused.returncode == 2 and "--yes" in one_sentence(refused)
    assert cli(*base, "sessions", "delete", chat_id, "--yes").returncode == 0
    assert json.loads(cli(*base, "sessions", "list", "--json").stdout) == []


def test_undo_all(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        [{"type": "tool_use", "name": "str_replace_editor", "input": {"command": "str_replace", "path": GREETING, "old_str": "limit: 100", "new_str": "limit: 1"}},
         {"type": "tool_use", "name": "str_replace_editor", "input": {"command": "str_replace", "path": GREETING, "old_str": "days: 90", "new_str": "days: 1"}}],
        [{"type": "text", "text": "ok"}],
    ]))  # fmt: skip
    original = (workspace / GREETING).read_bytes()
    chat_id = json.loads(
        cli(
            "-w",
            str(workspace),
            "message",
            "x",
            "--score",
            "greeting",
            "-p",
            "scripted",
            "--script",
            str(script),
            "--json",
        ).stdout
    )["chat_id"]
    result = cli("-w", str(workspace), "undo", "--session", chat_id, "--all")
    assert result.returncode == 0 and "Undid 2 edits" in result.stdout
    assert (workspace / GREETING).read_bytes() == original


def test_doctor(workspace: Path, ollama_server: Any) -> None:
    down = cli("-w", str(workspace), "doctor", "--json")
    assert down.returncode == 1
    report = json.loads(down.stdout)
    assert report["model_available"] is False
    assert {c["name"] for c in report["checks"]} == {"workspace", "database", "ollama", "anthropic"}
    up = cli("-w", str(workspace), "doctor", env={"OLLAMA_HOST": ollama_server.url})
    assert up.returncode == 0, up.stdout
    assert "[ok  ] ollama: reachable" in up.stdout and "qwen3:8b is present" in up.stdout


def test_models(ollama_server: Any) -> None:
    result = cli("models", "--provider", "ollama", "--json", env={"OLLAMA_HOST": ollama_server.url})
    assert json.loads(result.stdout) == {
        "provider": "ollama",
        "models": ["qwen3:8b", "llama3.2:1b", "tiny:4k"],
    }


def test_api_key_never_written(workspace: Path, tmp_path: Path, anthropic_server: Any) -> None:
    key = "sk-ant-recognisable-SECRET-0123456789"
    anthropic_server.api_key = key
    env = {"ANTHROPIC_BASE_URL": anthropic_server.url, "ANTHROPIC_API_KEY": key}
    result = message(workspace, anthropic_server, "--provider", "anthropic", "--json", env=env)
    assert result.returncode == 0, result.stderr
    chat_id = json.loads(result.stdout)["chat_id"]
    exported = cli("-w", str(workspace), "sessions", "export", chat_id, env=env).stdout
    for blob in [result.stdout, result.stderr, exported]:
        assert key not in blob
    for file in (tmp_path / "home").rglob("*"):
        if file.is_file():
            assert key.encode() not in file.read_bytes(), file


def test_doctor_names_the_store(workspace: Path, pg_url: str) -> None:
    sqlite = json.loads(cli("-w", str(workspace), "doctor", "--json").stdout)
    database = next(c for c in sqlite["checks"] if c["name"] == "database")
    assert database["ok"] and database["detail"].startswith("SQLite 3.")
    assert "schema" in database["detail"]
    user = urlsplit(pg_url).username or "postgres"
    secret = pg_url.replace(f"://{user}@", f"://{user}:s3cretpw@")
    shared = cli("-w", str(workspace), "--db", secret, "doctor")
    assert "[ok  ] database: PostgreSQL 1" in shared.stdout, shared.stdout
    assert f"{user}:***@" in shared.stdout and "s3cretpw" not in shared.stdout + shared.stderr
    refused = cli("-w", str(workspace), "--db", "postgresql://ann:s3cretpw@127.0.0.1:1/x", "doctor")
    assert refused.returncode == 1 and "[FAIL] database: The database" in refused.stdout
    assert "s3cretpw" not in refused.stdout + refused.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_command_group_on_either_store(
    workspace: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    from tests.fakes.scripts import edit, text

    env = {"SCORECHAT_WORKSPACE": str(workspace)}
    if backend == "postgres":
        env["SCORECHAT_DB"] = request.getfixturevalue("pg_url")
    script = tmp_path / "s.json"
    script.write_text(json.dumps([[text("raising the refund threshold"),
                                   edit("limit: 100", "limit: 300")], [text("done")]]))  # fmt: skip
    original = (workspace / GREETING).read_text()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = cli(*args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        return done

    chat_id = json.loads(run(*scripted_message("raise the refund limit", script)).stdout)["chat_id"]
    assert "limit: 300" in (workspace / GREETING).read_text()
    assert [s["id"] for s in json.loads(run("sessions", "list", "--json").stdout)] == [chat_id]
    found = run("sessions", "search", "refund thresh").stdout
    assert chat_id in found and "assistant: raising the refund threshold" in found
    assert "user:" not in found  # every word must match ("thresh" only in the reply)
    assert "limit: 300" in run("sessions", "show", chat_id).stdout
    run("sessions", "rename", chat_id, "Refund limit")
    exported = run("sessions", "export", chat_id, "--format", "json").stdout
    assert json.loads(exported)["session"]["title"] == "Refund limit"
    run("versions", "save", "greeting", "-m", "after the raise")
    assert "after the raise" in run("versions", "list", "greeting").stdout
    assert "limit: 300" in run("versions", "show", "greeting", "1").stdout
    run("undo", "--session", chat_id)
    assert (workspace / GREETING).read_text() == original
    run("redo", "--session", chat_id)
    assert "limit: 300" in (workspace / GREETING).read_text()
    run("sessions", "end", chat_id)
    run("sessions", "delete", chat_id, "--yes")
    assert json.loads(run("sessions", "list", "--json").stdout) == []
    # With PostgreSQL, the person's own SQLite file was never made.
    own_file = (Path(os.environ["SCORECHAT_HOME"]) / "data" / "scorechat.db").exists()
    assert own_file == (backend == "sqlite")


def test_a_bad_database_url_is_one_sentence() -> None:
    bad = cli("sessions", "list", env={"SCORECHAT_DB": "postgresql://ann:pw@h:notaport/db"})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "not a valid URL" in bad.stderr and ":pw@" not in bad.stderr
    other = cli("sessions", "list", env={"SCORECHAT_DB": "mysql://h/db"})
    assert other.returncode == 2 and "neither a file nor a postgresql:// URL" in other.stderr
