"""The agent runtime through POST /chatkit, in both API flavours: tools the model calls, the steps
and widgets the user sees, failures the model recovers from, assistants and a model per chat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.fake_provider import FakeProvider, Fault, tool_outputs
from tests.support.live import LiveServer, live_server, user_input


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def done_items(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [
        e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == kind
    ]


def answer(events: list[dict[str, Any]]) -> str:
    (message,) = done_items(events, "assistant_message")
    return "".join(p["text"] for p in message["content"])


def with_options(text: str, *, model: str | None = None, assistant: str | None = None) -> Any:
    message = user_input(text)
    message["inference_options"] = {
        "model": model,
        "tool_choice": {"id": f"assistant:{assistant}"} if assistant else None,
    }
    return message


def tool_names(request_body: dict[str, Any]) -> list[str]:
    names = []
    for tool in request_body.get("tools") or []:
        names.append(tool.get("name") or tool.get("function", {}).get("name"))
    return names


def seed_chat(server: LiveServer, provider: FakeProvider, text: str, reply: str) -> str:
    provider.reply(reply)
    thread_id, _ = server.create_thread(text)
    return thread_id


# ---------------------------------------------------------------- search_chats


def test_search_chats_shows_a_step_and_a_list_and_gives_the_model_excerpts(
    server: LiveServer, provider: FakeProvider
) -> None:
    lisbon = seed_chat(server, provider, "Planning a trip to Lisbon in May", "Take the tram 28.")
    seed_chat(server, provider, "A cake recipe please", "Flour, eggs, sugar.")
    provider.call_tools(("search_chats", {"query": "tram"}))
    provider.reply("You planned a Lisbon trip.")
    thread_id, events = server.create_thread("What did we say about Lisbon?")

    # the model's second request carries the tool result: the matching chat's excerpt
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert "Take the tram 28." in output and "Fake title" in output and "cake" not in output
    # a workflow with one finished step, then the list widget, then the answer
    order = [
        (e["type"], e["item"]["type"])
        for e in events
        if e["type"].startswith("thread.item.")
        if "item" in e
    ]
    assert order.index(("thread.item.done", "workflow")) < order.index(
        ("thread.item.done", "widget")
    )
    assert any(e["type"] == "progress_update" and "tram" in e["text"] for e in events)
    (workflow,) = done_items(events, "workflow")
    (task,) = workflow["workflow"]["tasks"]
    assert task["title"] == "Searched your chats" and task["status_indicator"] == "complete"
    assert workflow["workflow"]["summary"]["duration"] >= 0
    (widget,) = done_items(events, "widget")
    rows = [c for c in widget["widget"]["children"] if "onClickAction" in c]
    assert [r["onClickAction"]["payload"]["thread_id"] for r in rows] == [lisbon]
    assert rows[0]["onClickAction"]["type"] == "chat.open"
    assert rows[0]["onClickAction"]["handler"] == "client"
    assert answer(events) == "You planned a Lisbon trip."
    # stored the same way, so a reload (and a restart) shows the same
    stored = server.items(thread_id)
    assert [i["type"] for i in stored] == [
        "user_message",
        "workflow",
        "widget",
        "assistant_message",
    ]
    assert stored[1]["workflow"] == workflow["workflow"]
    stored_rows = [c for c in stored[2]["widget"]["children"] if "onClickAction" in c]
    assert [r["onClickAction"]["payload"] for r in stored_rows] == [
        r["onClickAction"]["payload"] for r in rows
    ]
    # the next turn tells the model, in one line, what the tools did
    server.stream("threads.add_user_message", thread_id=thread_id, input=user_input("Thanks"))
    sent = json.dumps(provider.chat_requests()[-1].body)
    assert "Earlier in this chat, tools were used: Searched your chats." in sent
    assert "0.0 s" not in sent


def test_steps_and_widgets_survive_a_restart(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    with live_server(data_dir, env) as server:
        seed_chat(server, provider, "Notes about sourdough", "Feed the starter daily.")
        provider.call_tools(("search_chats", {"query": "sourdough"}))
        thread_id, _events = server.create_thread("Find my sourdough chat")
        before = server.items(thread_id)
    with live_server(data_dir, env) as server:
        after = server.items(thread_id)
    assert after == before
    assert [i["type"] for i in after] == ["user_message", "workflow", "widget", "assistant_message"]


def test_search_chats_with_no_match_tells_the_model_and_shows_no_list(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.call_tools(("search_chats", {"query": "zanzibar"}))
    _, events = server.create_thread("Did we ever talk about Zanzibar?")
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert output.startswith("No earlier chats match")
    assert done_items(events, "widget") == []
    assert len(done_items(events, "workflow")) == 1


# ---------------------------------------------------------------- failures


def test_bad_arguments_become_a_failed_step_and_the_turn_goes_on(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.call_tools(("search_chats", '{"query": "unterminated'))
    provider.reply("Sorry, the search didn't work.")
    thread_id, events = server.create_thread("Search my chats")
    assert "error" not in kinds(events)
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert output.startswith("The tool failed")
    (workflow,) = done_items(events, "workflow")
    assert workflow["workflow"]["tasks"][0]["title"].startswith("Couldn't search your chats")
    assert answer(events) == "Sorry, the search didn't work."
    texts = [i["type"] for i in server.items(thread_id)]
    assert texts == ["user_message", "workflow", "assistant_message"]


def test_a_tool_that_fails_inside_becomes_a_failed_step(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.call_tools(("search_chats", {"query": "   "}))
    provider.reply("I need some words to search for.")
    _, events = server.create_thread("Search for nothing")
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert "the search words were empty" in output
    (workflow,) = done_items(events, "workflow")
    assert workflow["workflow"]["tasks"][0]["title"] == (
        "Couldn't search your chats: the search words were empty"
    )
    assert answer(events) == "I need some words to search for."


def test_a_tool_that_does_not_exist_is_reported_to_the_model(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.call_tools(("delete_everything", {}))
    provider.reply("I can't do that.")
    _, events = server.create_thread("Delete everything")
    assert "error" not in kinds(events)
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert "There is no tool named delete_everything" in output
    (workflow,) = done_items(events, "workflow")
    assert workflow["workflow"]["tasks"][0]["title"] == "delete_everything failed: no such tool"
    assert answer(events) == "I can't do that."


def test_provider_failure_after_a_tool_keeps_the_steps_and_the_message(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.call_tools(("current_time", {}))
    provider.fail(Fault("status", status=500, with_tool_output=True))
    thread_id, events = server.create_thread("What time is it?")
    assert kinds(events)[-1] == "error"
    (workflow,) = done_items(events, "workflow")
    assert workflow["workflow"]["tasks"][0]["title"] == "Checked the date and time"
    stored = [i["type"] for i in server.items(thread_id)]
    assert stored == ["user_message", "workflow"]


def test_a_model_that_refuses_tools_is_asked_again_without_them(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.fail(Fault("no_tools"))
    provider.reply("An answer without tools.")
    _, events = server.create_thread("Hello")
    notices = [e for e in events if e["type"] == "notice"]
    assert len(notices) == 1 and "doesn't accept tools" in notices[0]["message"]
    assert answer(events) == "An answer without tools."
    first, second = provider.chat_requests()[-2:]
    assert tool_names(first.body) and not tool_names(second.body)
    # later turns go straight to the request without tools, with no second notice
    provider.reply("Again.")
    _thread_id, events = server.create_thread("Hello again")
    assert not any(e["type"] == "notice" for e in events)
    assert not tool_names(provider.chat_requests()[-1].body)


# ---------------------------------------------------------------- assistants


def make_assistant(server: LiveServer, **fields: Any) -> dict[str, Any]:
    body = {"name": "Pirate", "instructions": "Talk like a pirate.", "tools": [], **fields}
    response = server.client.post("/api/assistants", content=json.dumps(body))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def instructions_of(body: dict[str, Any]) -> str:
    if "instructions" in body:
        return str(body["instructions"])
    return str(body["messages"][0]["content"])


def test_a_chat_keeps_its_assistant_across_turns_retry_and_restart(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    with live_server(data_dir, env) as server:
        pirate = make_assistant(server, model="fake-model-large")
        events = server.stream("threads.create", input=with_options("Ahoy", assistant=pirate["id"]))
        thread_id = events[0]["thread"]["id"]
        request = provider.chat_requests()[-1].body
        assert instructions_of(request) == "Talk like a pirate."
        assert request["model"] == "fake-model-large" and not tool_names(request)
        # a later message without a pick keeps the assistant
        server.stream("threads.add_user_message", thread_id=thread_id, input=user_input("More"))
        assert instructions_of(provider.chat_requests()[-1].body) == "Talk like a pirate."
        # a retry too
        user_items = [i for i in server.items(thread_id) if i["type"] == "user_message"]
        server.stream("threads.retry_after_item", thread_id=thread_id, item_id=user_items[-1]["id"])
        assert instructions_of(provider.chat_requests()[-1].body) == "Talk like a pirate."
        choice = server.client.get(f"/api/threads/{thread_id}/choice").json()
        assert choice == {"assistant_id": pirate["id"], "model": None}
    with live_server(data_dir, env) as server:
        server.stream("threads.add_user_message", thread_id=thread_id, input=user_input("Still?"))
        assert instructions_of(provider.chat_requests()[-1].body) == "Talk like a pirate."
        # deleting the assistant leaves the chat working, with the built-in assistant
        assert server.client.delete(f"/api/assistants/{pirate['id']}").status_code == 204
        events = server.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input("And now?")
        )
        assert answer(events).startswith("Echo")
        assert instructions_of(provider.chat_requests()[-1].body) == "You are a helpful assistant."


def test_a_widget_action_keeps_the_chats_assistant(
    server: LiveServer, provider: FakeProvider
) -> None:
    pirate = make_assistant(server)
    events = server.stream("threads.create", input=with_options("Ahoy", assistant=pirate["id"]))
    thread_id = events[0]["thread"]["id"]
    server.stream(
        "threads.custom_action",
        thread_id=thread_id,
        item_id=None,
        action={"type": "example.clicked", "payload": {"x": 1}},
    )
    assert instructions_of(provider.chat_requests()[-1].body) == "Talk like a pirate."


def test_assistants_are_validated_edited_duplicated_and_deleted(server: LiveServer) -> None:
    listing = server.client.get("/api/assistants").json()
    (builtin,) = listing["assistants"]
    assert builtin["builtin"] and builtin["name"] == "Assistant"
    assert builtin["instructions"] == "You are a helpful assistant."
    assert {t["name"] for t in listing["tools"]} == {
        "search_chats",
        "current_time",
        "read_web_page",
        "web_search",
        "code_interpreter",
        "image_generation",
        "set_theme",
        "copy_to_clipboard",
        "open_link",
    }
    # OpenAI's hosted tools say why they are off with this provider
    hosted = {t["name"]: t for t in listing["tools"] if not t["available"]}
    assert set(hosted) == {"web_search", "code_interpreter", "image_generation"}
    assert all("Responses API" in t["note"] for t in hosted.values())
    bad = server.client.post("/api/assistants", content=json.dumps({"name": ""}))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    unknown = server.client.post(
        "/api/assistants", content=json.dumps({"name": "X", "tools": ["rm_rf"]})
    )
    assert unknown.status_code == 400 and "Unknown tool" in unknown.json()["error"]["message"]
    helper = make_assistant(server, name="Helper", tools=["current_time"])
    edited = server.client.put(
        f"/api/assistants/{helper['id']}",
        content=json.dumps({"name": "Helper 2", "instructions": "Be brief.", "tools": []}),
    ).json()
    assert edited["name"] == "Helper 2" and edited["tools"] == []
    copy = server.client.post(f"/api/assistants/{helper['id']}/duplicate").json()
    assert copy["name"] == "Helper 2 (copy)" and copy["id"] != helper["id"]
    refused = server.client.delete(f"/api/assistants/{builtin['id']}")
    assert refused.status_code == 400 and "can't be deleted" not in refused.text.lower()
    assert "not deleted" in refused.json()["error"]["message"]
    assert server.client.delete("/api/assistants/asst_missing").status_code == 404
    names = [a["name"] for a in server.client.get("/api/assistants").json()["assistants"]]
    assert names == ["Assistant", "Helper 2", "Helper 2 (copy)"]


def test_the_builtin_assistant_follows_the_settings_prompt_until_edited(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    settings = json.loads((data_dir / "settings.json").read_text())
    (data_dir / "settings.json").write_text(
        json.dumps({**settings, "system_prompt": "Answer in French."})
    )
    with live_server(data_dir, env) as server:
        server.create_thread("Hello")
        assert instructions_of(provider.chat_requests()[-1].body) == "Answer in French."
        (builtin,) = server.client.get("/api/assistants").json()["assistants"]
        assert builtin["instructions"] == "Answer in French."
        # a change of the settings prompt still applies...
        changed = {"settings": {"system_prompt": "Answer in Dutch."}}
        assert server.client.put("/api/settings", content=json.dumps(changed)).status_code == 200
        server.create_thread("Hello")
        assert instructions_of(provider.chat_requests()[-1].body) == "Answer in Dutch."
        # ...until the built-in assistant is edited, which then wins (across a restart)
        edit = {"name": builtin["name"], "instructions": "Be terse.", "tools": builtin["tools"]}
        server.client.put(f"/api/assistants/{builtin['id']}", content=json.dumps(edit))
    with live_server(data_dir, env) as server:
        server.create_thread("Hello")
        assert instructions_of(provider.chat_requests()[-1].body) == "Be terse."


def test_the_default_assistant_offers_its_tools(server: LiveServer, provider: FakeProvider) -> None:
    server.create_thread("Hello")
    assert sorted(tool_names(provider.chat_requests()[-1].body)) == ["current_time", "search_chats"]


# ---------------------------------------------------------------- model per chat


def test_a_picked_model_is_used_and_remembered(server: LiveServer, provider: FakeProvider) -> None:
    events = server.stream("threads.create", input=with_options("Hi", model="fake-model-large"))
    thread_id = events[0]["thread"]["id"]
    assert provider.chat_requests()[-1].body["model"] == "fake-model-large"
    server.stream("threads.add_user_message", thread_id=thread_id, input=user_input("Again"))
    assert provider.chat_requests()[-1].body["model"] == "fake-model-large"
    assert server.client.get(f"/api/threads/{thread_id}/choice").json()["model"] == (
        "fake-model-large"
    )
    # another chat still uses the configured default
    server.create_thread("Elsewhere")
    assert provider.chat_requests()[-1].body["model"] == "fake-model"


def test_an_unknown_model_is_refused_before_anything_is_saved(
    server: LiveServer, provider: FakeProvider
) -> None:
    before = len(provider.chat_requests())
    response = server.post(
        {"type": "threads.create", "params": {"input": with_options("Hi", model="gpt-imaginary")}}
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "gpt-imaginary" in message and "isn't offered" in message
    assert len(provider.chat_requests()) == before
    assert server.call("threads.list", limit=10, order="desc")["data"] == []


def test_the_composer_offers_assistants_and_models(
    server: LiveServer, provider: FakeProvider
) -> None:
    make_assistant(server)
    offer = server.client.get("/api/composer").json()
    assert [a["name"] for a in offer["assistants"]] == ["Assistant", "Pirate"]
    assert offer["models"] == ["fake-model", "fake-model-large"]
    assert offer["default_model"] == "fake-model" and offer["models_listed"] is True


def test_the_composer_falls_back_to_the_configured_model(
    server: LiveServer, provider: FakeProvider
) -> None:
    provider.fail(Fault("status", status=503, models_list=True))
    offer = server.client.get("/api/composer").json()
    assert offer["models"] == ["fake-model"] and offer["models_listed"] is False
    assert "503" in offer["models_message"]


def test_hosted_tools_are_left_out_where_they_cannot_run(
    server: LiveServer, provider: FakeProvider
) -> None:
    researcher = make_assistant(server, tools=["web_search", "image_generation", "search_chats"])
    provider.reply("Answered without the web.")
    events = server.stream(
        "threads.create", input=with_options("Search the web", assistant=researcher["id"])
    )
    assert answer(events) == "Answered without the web."
    assert tool_names(provider.chat_requests()[-1].body) == ["search_chats"]
