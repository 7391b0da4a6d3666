"""The real ``ollama`` and ``anthropic`` SDKs against loopback servers speaking their protocols."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.agent import ChatSession
from engine.errors import UsageError
from engine.events import FileChanged, Retrying, TextDelta, ToolResult, TurnDone, TurnFailed, Usage
from engine.providers import NoModelError, choose_provider, make_provider
from engine.providers.anthropic import AnthropicProvider, cost_usd, editor_tool_for
from engine.providers.ollama import OllamaProvider
from engine.providers.scripted import ScriptedProvider
from engine.settings import Settings, load_settings
from engine.store import Store
from engine.workspace import Workspace
from tests.fakes.scripts import text
from tests.fakes.steps import Step

GREETING = "Customer Service QA/Greeting.yaml"


def edit_call(old: str, new: str) -> dict[str, Any]:
    return {
        "name": "",
        "input": {"command": "str_replace", "path": GREETING, "old_str": old, "new_str": new},
    }


async def run_turn(
    settings: Settings, store: Store, provider: Any, message: str, session_id: str | None = None
) -> tuple[ChatSession, list[Any]]:
    ws = Workspace(settings.workspace)
    if session_id:
        chat = await ChatSession.resume(
            store=store, workspace=ws, settings=settings, provider=provider, session_id=session_id
        )
    else:
        chat = await ChatSession.start(
            store=store,
            workspace=ws,
            settings=settings,
            provider=provider,
            score=ws.resolve_score("greeting"),
        )
    events = [e async for e in chat.send(message)]
    return chat, events


def ollama(server: Any, model: str = "qwen3:8b") -> OllamaProvider:
    return OllamaProvider(model, host=server.url, timeout=5)


def claude(
    server: Any, model: str = "claude-sonnet-4-6", key: str = "test-key"
) -> AnthropicProvider:
    return AnthropicProvider(model, api_key=key, base_url=server.url, timeout=5)


# ---- Ollama -----------------------------------------------------------------------------------


async def _set_model_name(
    settings: Settings, store: Store, provider: Any
) -> tuple[ChatSession, list[Any]]:
    """The two-round edit every provider must make: the tool call, then the summary."""
    chat, events = await run_turn(settings, store, provider, "set model_name to gpt-4o")
    assert "model_name: gpt-4o\n" in (settings.workspace / GREETING).read_text()
    return chat, events


async def test_ollama_two_round_edit(
    settings: Settings, store: Store, workspace: Path, ollama_server: Any
) -> None:
    chat, events = await _set_model_name(settings, store, ollama(ollama_server))
    assert any(isinstance(e, FileChanged) and e.key_paths == ["model_name"] for e in events)
    assert isinstance(events[-1], TurnDone) and "Done." in events[-1].text
    request = ollama_server.chat_requests[0]
    assert request["tools"][0]["function"]["name"] == "str_replace_editor"
    assert request["messages"][0]["role"] == "system"
    # The file travels with the user's message, after the stable system prompt.
    assert "model_name: gpt-4o-mini" in request["messages"][1]["content"]
    assert request["messages"][1]["content"].endswith("set model_name to gpt-4o")
    second = ollama_server.chat_requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["arguments"]["new_str"] == "model_name: gpt-4o"
    assert second[-1]["role"] == "tool" and "has been edited" in second[-1]["content"]
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.input_tokens > 0 and usage.cost_usd == 0.0
    assert len(await store.edits(chat.id)) == 1


@pytest.mark.parametrize(
    ("kind", "replayed"),
    [
        ("ollama", ["system", "user", "assistant", "tool", "assistant", "user"]),
        ("anthropic", ["user", "assistant", "user", "assistant", "user"]),
    ],
)
async def test_resume_and_continue(
    settings: Settings,
    store: Store,
    request: pytest.FixtureRequest,
    kind: str,
    replayed: list[str],
) -> None:
    """A resumed session replays its history (tool calls included) in the provider's shape."""
    server = request.getfixturevalue(f"{kind}_server")
    provider = ollama if kind == "ollama" else claude
    chat, _ = await run_turn(settings, store, provider(server), "set model_name to gpt-4o")
    _, events = await run_turn(settings, store, provider(server), "hello again", session_id=chat.id)
    assert isinstance(events[-1], TurnDone)
    if kind == "ollama":
        assert "You said: hello again" in events[-1].text
    sent = server.chat_requests if kind == "ollama" else server.message_requests
    assert [m["role"] for m in sent[-1]["messages"]] == replayed


async def test_ollama_retries_then_succeeds(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(
        Step(status=500, error="boom"),
        Step(status=429, error="slow down", headers={"retry-after": "0"}),
        Step(text="finally here"),
    )
    chat, events = await run_turn(settings, store, ollama(ollama_server), "hi")
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.attempt for r in retries] == [2, 3]
    assert "500" in retries[0].reason
    assert isinstance(events[-1], TurnDone) and events[-1].text == "finally here"
    messages = await store.messages(chat.id)
    assert [m.role for m in messages] == ["user", "assistant"]  # no duplicates from the retries
    assert messages[1].text == "finally here"


async def test_ollama_dropped_stream_is_retried_and_not_duplicated(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(
        Step(text="partial words that will be lost", drop_after=3), Step(text="whole reply")
    )
    chat, events = await run_turn(settings, store, ollama(ollama_server), "hi")
    assert any(isinstance(e, Retrying) for e in events)
    assert events[-1].text == "whole reply"
    assert (await store.messages(chat.id))[-1].text == "whole reply"


async def test_ollama_gives_up_with_one_sentence(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(*[Step(status=503, error="overloaded") for _ in range(3)])
    chat, events = await run_turn(settings, store, ollama(ollama_server), "hi")
    failure = events[-1]
    assert isinstance(failure, TurnFailed)
    assert (
        failure.message.startswith("The model did not answer")
        and "tried 3 times" in failure.message
    )
    assert "\n" not in failure.message
    assert [m.role for m in await store.messages(chat.id)] == ["user", "assistant"]


async def test_ollama_unknown_model_is_not_retried(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    _, events = await run_turn(settings, store, ollama(ollama_server, "nope:1b"), "hi")
    assert isinstance(events[-1], TurnFailed)
    assert "ollama pull nope:1b" in events[-1].message
    assert not any(isinstance(e, Retrying) for e in events)


async def test_ollama_connection_refused(settings: Settings, store: Store) -> None:
    provider = OllamaProvider("qwen3:8b", host="http://127.0.0.1:9", timeout=2)
    _, events = await run_turn(settings, store, provider, "hi")
    assert (
        isinstance(events[-1], TurnFailed)
        and "not reachable at http://127.0.0.1:9" in events[-1].message
    )


async def test_ollama_text_protocol_for_models_without_tools(
    settings: Settings, store: Store, workspace: Path, ollama_server: Any
) -> None:
    provider = ollama(ollama_server, "llama3.2:1b")
    _chat, events = await run_turn(settings, store, provider, "set model_name to gpt-4.1")
    assert provider.uses_text_protocol
    assert "tools" not in ollama_server.chat_requests[0] or not ollama_server.chat_requests[0].get(
        "tools"
    )
    assert "```edit" in ollama_server.chat_requests[0]["messages"][0]["content"]
    assert "model_name: gpt-4.1\n" in (workspace / GREETING).read_text()
    results = [e for e in events if isinstance(e, ToolResult)]
    assert results and not results[0].is_error
    follow_up = ollama_server.chat_requests[1]["messages"][-1]
    assert follow_up["role"] == "user" and follow_up["content"].startswith("[edit result: ok]")
    # People never see the protocol's raw JSON; the model sees its own blocks again.
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "```edit" not in shown and '"command"' not in shown
    assert "```edit" in ollama_server.chat_requests[1]["messages"][-2]["content"]


async def test_ollama_malformed_tool_arguments_are_retried(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    # The SDK cannot read a tool call whose arguments are not an object: the reply is asked for again.
    ollama_server.queue(
        Step(tool_calls=[{"name": "str_replace_editor", "input": "{broken"}]), Step(text="sorry")
    )
    _, events = await run_turn(settings, store, ollama(ollama_server), "hi")
    retry = next(e for e in events if isinstance(e, Retrying))
    assert "malformed tool arguments" in retry.reason
    assert isinstance(events[-1], TurnDone) and events[-1].text == "sorry"


async def test_ollama_malformed_stream_line_is_retried(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(Step(text="a b c d", malformed_after=2), Step(text="clean"))
    _, events = await run_turn(settings, store, ollama(ollama_server), "hi")
    assert any(isinstance(e, Retrying) for e in events)
    assert events[-1].text == "clean"


async def test_ollama_models_and_choice(
    settings: Settings, ollama_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await ollama(ollama_server).list_models() == ["qwen3:8b", "llama3.2:1b", "tiny:4k"]
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    chosen = await choose_provider(load_settings(workspace=settings.workspace))
    assert (chosen.name, chosen.model) == ("ollama", "qwen3:8b")


async def test_choice_falls_back_to_anthropic_then_says_how_to_connect(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NoModelError, match="ollama pull"):
        await choose_provider(settings)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-123456789")
    chosen = await choose_provider(settings)
    assert chosen.name == "anthropic"
    scripted = settings.with_overrides(provider="scripted")
    with pytest.raises(UsageError, match="--script"):
        make_provider(scripted, "scripted")


# ---- Anthropic --------------------------------------------------------------------------------


async def test_anthropic_two_round_edit(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    chat, events = await _set_model_name(settings, store, claude(anthropic_server))
    first = anthropic_server.message_requests[0]
    assert first["tools"] == [
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}
    ]
    assert first["stream"] is True
    # A stable, cached system prompt; the file comes with the user's message.
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "model_name: gpt-4o-mini" in first["messages"][0]["content"][0]["text"]
    second = anthropic_server.message_requests[1]["messages"]
    assert second[1]["content"][-1]["type"] == "tool_use"
    assert second[2]["content"][0]["type"] == "tool_result"
    assert second[2]["content"][0]["tool_use_id"] == second[1]["content"][-1]["id"]
    usage = [e for e in events if isinstance(e, Usage)][-1]
    # The second round read the first round's prefix from the cache, at a tenth.
    assert usage.cache_read_tokens > 0 and usage.cache_write_tokens > 0
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    assert usage.cost_usd == pytest.approx(
        cost_usd("claude-sonnet-4-6", uncached, usage.output_tokens,
                 usage.cache_write_tokens, usage.cache_read_tokens)
    )  # fmt: skip
    assert usage.cost_usd > 0
    session = await store.get_session(chat.id)
    assert session is not None and session.cost_usd == pytest.approx(usage.cost_usd)


async def test_anthropic_overloaded_mid_stream_then_success(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    anthropic_server.queue(
        Step(text="one two three four five", mid_stream_error="overloaded_error"),
        Step(status=529, error="Overloaded"),
        Step(text="recovered"),
    )
    chat, events = await run_turn(settings, store, claude(anthropic_server), "hi")
    retries = [e for e in events if isinstance(e, Retrying)]
    assert len(retries) == 2 and all("overloaded" in r.reason for r in retries)
    assert events[-1].text == "recovered"
    assert (await store.messages(chat.id))[-1].text == "recovered"


async def test_anthropic_honours_retry_after(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    anthropic_server.queue(
        Step(status=429, error="rate", headers={"retry-after": "0.2"}), Step(text="ok")
    )
    _, events = await run_turn(settings, store, claude(anthropic_server), "hi")
    retry = next(e for e in events if isinstance(e, Retrying))
    assert retry.wait == pytest.approx(0.2) and "rate limit" in retry.reason


async def test_anthropic_bad_key_is_one_sentence(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    _, events = await run_turn(settings, store, claude(anthropic_server, key="wrong"), "hi")
    assert isinstance(events[-1], TurnFailed)
    assert events[-1].message == "Anthropic rejected the API key (401): check ANTHROPIC_API_KEY."


async def test_anthropic_malformed_tool_json_goes_back_to_the_model(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    anthropic_server.queue(
        Step(
            tool_calls=[
                {"name": "str_replace_based_edit_tool", "input": '{"command": "view", "path": '}
            ]
        ),
        Step(text="let me try again"),
    )
    _, events = await run_turn(settings, store, claude(anthropic_server), "hi")
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.is_error and "not valid JSON" in result.text
    assert events[-1].text == "let me try again"


async def test_anthropic_streams_text_deltas(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    anthropic_server.queue(Step(text="a b c d e f"))
    _, events = await run_turn(settings, store, claude(anthropic_server), "hi")
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "a ",
        "b ",
        "c ",
        "d ",
        "e ",
        "f",
    ]


async def test_anthropic_accepts_bearer_auth_on_the_wire(anthropic_server: Any) -> None:
    async with httpx.AsyncClient() as client:
        ok = await client.post(
            anthropic_server.url + "/v1/models", headers={"Authorization": "Bearer test-key"}
        )
        bad = await client.post(
            anthropic_server.url + "/v1/models", headers={"Authorization": "Bearer nope"}
        )
    assert ok.status_code == 200 and bad.status_code == 401


def test_editor_tool_version_matches_model() -> None:
    assert editor_tool_for("claude-sonnet-4-6")["type"] == "text_editor_20250728"
    assert editor_tool_for("claude-opus-4-1")["name"] == "str_replace_based_edit_tool"
    assert editor_tool_for("claude-3-7-sonnet-latest") == {
        "type": "text_editor_20250124",
        "name": "str_replace_editor",
    }


async def test_anthropic_without_key_is_one_sentence(settings: Settings, store: Store) -> None:
    _, events = await run_turn(settings, store, AnthropicProvider(api_key=None), "hi")
    assert isinstance(events[-1], TurnFailed) and "ANTHROPIC_API_KEY" in events[-1].message


async def test_ollama_gets_a_context_window_and_fill_is_reported(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    ollama_server.queue(Step(text="big prompt", input_tokens=15_500))
    provider = ollama(ollama_server)
    _chat, events = await run_turn(settings, store, provider, "hi")
    # The model's own 40,960 bounded by OLLAMA_NUM_CTX (16,384 by default).
    assert ollama_server.chat_requests[0]["options"]["num_ctx"] == 16_384
    usage = next(e for e in events if isinstance(e, Usage))
    assert (usage.context_tokens, usage.context_window) == (15_500, 16_384)
    notices = [e for e in events if type(e).__name__ == "Notice"]
    assert notices and "fills 95%" in notices[0].text


async def test_a_session_moves_from_ollama_to_claude_with_ids_and_names_it_accepts(
    settings: Settings, store: Store, ollama_server: Any, anthropic_server: Any
) -> None:
    view = {"name": "", "input": {"command": "view", "path": GREETING}}
    ollama_server.queue(
        Step(thinking="First a look.", tool_calls=[view]),
        Step(thinking="Once more.", tool_calls=[view]),
        Step(text="Seen it twice."),
    )
    chat, _ = await run_turn(settings, store, ollama(ollama_server), "look twice")
    ids = [
        p["id"] for m in await store.messages(chat.id) if m.role == "assistant"
        for p in m.parts if p.get("type") == "tool_use"
    ]  # fmt: skip
    assert len(ids) == 2 and len(set(ids)) == 2
    # The loopback Anthropic server refuses duplicate ids, undeclared tool names and,
    # for this preserved-thinking model, a prefix that changes between requests;
    # Ollama's unsigned thinking is not replayed to Claude.
    anthropic_server.queue(
        Step(thinking="Now me.", tool_calls=[{"name": "", "input": view["input"]}]),
        Step(text="Seen."),
    )
    _, events = await run_turn(
        settings, store, claude(anthropic_server, "claude-sonnet-5-5"), "and now?",
        session_id=chat.id,
    )  # fmt: skip
    assert isinstance(events[-1], TurnDone), events[-1]
    sent = anthropic_server.message_requests[-1]["messages"]
    names = {b["name"] for m in sent for b in m["content"] if b.get("type") == "tool_use"}
    assert names == {"str_replace_based_edit_tool"}


async def test_repeated_or_foreign_tool_call_ids_are_made_unique_before_they_are_stored(
    settings: Settings, store: Store, anthropic_server: Any
) -> None:
    """A server that repeats tool call ids (one counting from zero after a restart) or
    sends ids Claude does not take: the session must still move to Claude, whose API
    refuses a history with two calls of one id."""
    view = {"command": "view", "path": GREETING}
    same = {"type": "tool_use", "id": "call_0", "name": "str_replace_editor", "input": view}
    odd = {**same, "id": "call 0:x"}
    provider = ScriptedProvider(
        [[same, same], [text("Seen.")], [same], [text("Seen again.")], [odd], [text("Done.")]]
    )
    chat, _ = await run_turn(settings, store, provider, "look")
    for message in ("look again", "and once more"):
        await run_turn(settings, store, provider, message, session_id=chat.id)
    stored = await store.messages(chat.id)
    calls = [p["id"] for m in stored if m.role == "assistant" for p in m.parts
             if p.get("type") == "tool_use"]  # fmt: skip
    results = [p["tool_use_id"] for m in stored if m.role == "tool" for p in m.parts]
    assert len(calls) == 4 and len(set(calls)) == 4 and sorted(results) == sorted(calls)
    assert calls[0] == "call_0" and all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in calls)
    anthropic_server.queue(Step(text="All seen."))
    _, events = await run_turn(
        settings, store, claude(anthropic_server), "what did you see?", session_id=chat.id
    )
    assert isinstance(events[-1], TurnDone), events[-1]


def test_price_table_rows() -> None:
    from engine.providers.anthropic import PRICES_AS_OF

    million = 1_000_000
    assert PRICES_AS_OF
    assert cost_usd("claude-opus-4-7", million, million) == 30.0  # $5 in + $25 out
    assert cost_usd("claude-opus-4-1-20250805", million, million) == 90.0
    assert cost_usd("claude-sonnet-4-6", million, 0) == 3.0
    assert cost_usd("claude-sonnet-5", million, million) == 12.0
    assert cost_usd("claude-haiku-5-5", million, million) == 0.6
    assert cost_usd("claude-sonnet-4-6", 0, 0, cache_read_tokens=million) == 0.3
    assert cost_usd("claude-3-5-haiku-latest", million, million) == 0.0  # retired


async def test_claude_thinking_is_kept_and_sent_back_unchanged_in_a_tool_loop(
    settings: Settings, store: Store, anthropic_server: Any, workspace: Path
) -> None:
    from engine.events import ThinkingDelta

    anthropic_server.queue(
        Step(thinking="The limit line is near the end.", text="Editing.",
             tool_calls=[edit_call("limit: 100", "limit: 7")]),
        Step(text="Done."),
    )  # fmt: skip
    chat, events = await run_turn(settings, store, claude(anthropic_server), "lower the limit")
    assert isinstance(events[-1], TurnDone), events[-1]  # the fake refuses a dropped block
    thought = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert thought == "The limit line is near the end."
    assert "limit: 7" in (workspace / GREETING).read_text()
    second = anthropic_server.message_requests[1]["messages"][1]["content"]
    assert second[0] == {
        "type": "thinking", "thinking": "The limit line is near the end.", "signature": "sig-2"
    }  # fmt: skip
    stored = next(m for m in await store.messages(chat.id) if m.role == "assistant")
    assert stored.parts[0]["type"] == "thinking" and "near the end" not in stored.text
    # And after a resume, the replayed history still carries it.
    _, again = await run_turn(
        settings, store, claude(anthropic_server), "thanks", session_id=chat.id
    )
    assert isinstance(again[-1], TurnDone), again[-1]


async def test_dropping_a_thinking_block_is_refused_as_the_api_does(anthropic_server: Any) -> None:
    import anthropic

    anthropic_server.thinking_sent["toolu_0001"] = {
        "type": "thinking", "thinking": "x", "signature": "sig-9"
    }  # fmt: skip
    client = anthropic.AsyncAnthropic(api_key="test-key", base_url=anthropic_server.url)
    with pytest.raises(anthropic.BadRequestError, match="Expected `thinking`"):
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=10,
            tools=[{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}],
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_0001", "name": "str_replace_based_edit_tool",
                     "input": {"command": "view", "path": "a.yaml"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_0001", "content": "ok"}]},
            ],
        )  # fmt: skip
    await client.close()


async def test_ollama_thinking_streams_apart_from_the_reply(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    from engine.events import ThinkingDelta

    ollama_server.queue(Step(thinking="Let me think about it.", text="Here it is."))
    chat, events = await run_turn(settings, store, ollama(ollama_server), "hi")
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == (
        "Let me think about it."
    )
    assert events[-1].text == "Here it is."
    stored = next(m for m in await store.messages(chat.id) if m.role == "assistant")
    assert stored.parts[0] == {"type": "thinking", "thinking": "Let me think about it."}


async def test_thinking_can_be_turned_off(
    settings: Settings, store: Store, anthropic_server: Any, ollama_server: Any
) -> None:
    off = settings.with_overrides(thinking="off")
    anthropic_server.queue(Step(text="ok"))
    await run_turn(
        off, store, AnthropicProvider("claude-sonnet-5", api_key="test-key",
                                      base_url=anthropic_server.url, thinking="off"), "hi",
    )  # fmt: skip
    assert anthropic_server.message_requests[-1]["thinking"] == {"type": "disabled"}
    await run_turn(
        off, store, OllamaProvider("qwen3:8b", host=ollama_server.url, thinking="off"), "hi"
    )
    assert ollama_server.chat_requests[-1]["think"] is False


def test_thinking_config_by_model() -> None:
    from engine.providers.anthropic import thinking_config

    assert thinking_config("claude-sonnet-4-5", "on")["type"] == "enabled"  # type: ignore[index]
    assert thinking_config("claude-opus-4-7", "on") == {"type": "adaptive"}
    assert thinking_config("claude-sonnet-5", "auto") is None
    assert thinking_config("claude-haiku-4-5", "off") == {"type": "disabled"}


async def test_the_fakes_refuse_what_the_apis_refuse(
    anthropic_server: Any, ollama_server: Any
) -> None:
    import anthropic
    import ollama as ollama_sdk

    client = anthropic.AsyncAnthropic(api_key="test-key", base_url=anthropic_server.url)
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.create(
            model="claude-3-5-haiku-latest",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
        )
    with pytest.raises(anthropic.BadRequestError, match="not supported"):
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "text_editor_20250124", "name": "str_replace_editor"}],
        )  # fmt: skip
    await client.close()
    local = ollama_sdk.AsyncClient(host=ollama_server.url)
    with pytest.raises(ollama_sdk.ResponseError, match="does not support tools"):
        await local.chat(
            model="llama3.2:1b", messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "x", "parameters": {}}}],
        )  # fmt: skip


async def test_a_preserved_thinking_model_sees_an_unchanged_prefix_across_turns(
    settings: Settings, store: Store, anthropic_server: Any, workspace: Path
) -> None:
    # The loopback server refuses, for claude-sonnet-5, any request whose system
    # prompt, tools or earlier messages differ from the conversation's previous one.
    steps = []
    for old, new in (("limit: 100", "limit: 1"), ("limit: 1", "limit: 2"), ("days: 90", "days: 3")):
        steps += [Step(thinking=f"change {old}", tool_calls=[edit_call(old, new)]), Step(text="ok")]
    anthropic_server.queue(*steps)
    chat_id = None
    for n in range(3):
        chat, events = await run_turn(
            settings, store, claude(anthropic_server, "claude-sonnet-5"), f"turn {n}",
            session_id=chat_id,
        )  # fmt: skip
        chat_id = chat.id
        assert isinstance(events[-1], TurnDone), events[-1]
    text_now = (workspace / GREETING).read_text()
    assert "limit: 2" in text_now and "days: 3" in text_now
    usage = anthropic_server.usage_log
    assert usage[-1]["read"] > usage[-1]["input"]  # most of the prompt came from the cache


async def test_a_4k_ollama_model_warns_instead_of_trimming_silently(
    settings: Settings, store: Store, ollama_server: Any
) -> None:
    provider = OllamaProvider("tiny:4k", host=ollama_server.url, timeout=5)
    ws = Workspace(settings.workspace)
    chat = await ChatSession.start(
        store=store, workspace=ws, settings=settings, provider=provider,
        score=ws.resolve_score("Product Claims"),
    )  # fmt: skip
    events = [e async for e in chat.send("summarise this score")]
    notices = [e.text for e in events if type(e).__name__ == "Notice"]
    assert notices and "4,096-token context" in notices[0]
    assert ollama_server.chat_requests[0]["options"]["num_ctx"] == 4096
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.context_window == 4096 and usage.context_tokens == 4096


@pytest.mark.parametrize(
    ("script", "said"),
    [('{"chunk_delay": "abc", "responses": []}', 'has chunk_delay "abc": it is the seconds'),
     ('{"chunk_delay": -1, "responses": []}', "has chunk_delay -1"),
     ('{"chunk_delay": NaN, "responses": []}', "has chunk_delay NaN"),
     ('{"chunk_delay": true, "responses": []}', "has chunk_delay true"),
     ('[[{"type": "text", "text": "ok"}], ["str"]]', "block 1 of response 2 is not an object"),
     ('[[{"type": "bogus"}]]', 'has the type "bogus"; a block\'s type is one of text, thinking'),
     ('[[{"type": "text", "text": 5}]]', 'has "text": 5, which is not a string'),
     ('[[{"type": "tool_use", "name": ["x"]}]]', 'has "name": ["x"], which is not a string'),
     ('{"turns": 3}', "must be a list of responses")],
)  # fmt: skip
def test_a_script_that_is_no_script_is_one_sentence(tmp_path: Path, script: str, said: str) -> None:
    from engine.errors import UsageError
    from engine.providers.scripted import load_script

    path = tmp_path / "demo.json"
    path.write_text(script)
    with pytest.raises(UsageError) as caught:
        load_script(path)
    assert said in str(caught.value) and str(path) in str(caught.value)


def test_a_script_may_send_arguments_that_are_no_object(tmp_path: Path) -> None:
    """A demo of a model that sends bad arguments: the block is kept as it is."""
    from engine.providers.scripted import load_script

    path = tmp_path / "demo.json"
    path.write_text('{"chunk_delay": 0.01, "responses": [[{"type": "tool_use", "input": "x"}]]}')
    assert load_script(path) == ([[{"type": "tool_use", "input": "x"}]], 0.01)
