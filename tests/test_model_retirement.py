"""Models that retire or aren't offered: the dated table, the provider's `shutdown_date`, and a
turn that moves to a model that works (with a notice) instead of failing, in both API flavours
and in chats that already have turns."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from desktop.chat.model_choice import model_for
from desktop.chat.models import ModelList, model_entries
from desktop.chat.retirements import day_words, parse_date, retirement
from desktop.settings.config import DEFAULT_MODEL
from tests.support.fake_provider import FakeProvider
from tests.support.live import LiveServer, live_server, user_input

BEFORE = date(2026, 12, 6)
AFTER = date(2026, 12, 12)


class Clock:
    """The server's today, moved by the test: shutdowns are judged by it."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def notices(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in events if e["type"] == "notice"]


def answered(events: list[dict[str, Any]]) -> bool:
    return any(
        e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message" for e in events
    )


def picking(text: str, model: str | None = None, assistant: str | None = None) -> Any:
    message = user_input(text)
    message["inference_options"] = {
        "model": model,
        "tool_choice": {"id": f"assistant:{assistant}"} if assistant else None,
    }
    return message


def say(server: LiveServer, thread_id: str, text: str, **picks: Any) -> list[dict[str, Any]]:
    return server.stream(
        "threads.add_user_message", thread_id=thread_id, input=picking(text, **picks)
    )


def settings_model(data_dir: Path, env: dict[str, str], model: str) -> dict[str, str]:
    """Settings name `model` (the environment names none, so Settings can move)."""
    path = data_dir / "settings.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "model": model}))
    return {k: v for k, v in env.items() if k != "CHATKIT_DESKTOP_MODEL"}


# ---------------------------------------------------------------- the table and the list


def test_the_table_says_retiring_then_retired_and_the_replacement() -> None:
    ahead = retirement("gpt-5-mini", BEFORE)
    assert ahead is not None and not ahead.retired and ahead.replacement == "gpt-6.1-terra"
    assert ahead.when == "11 Dec 2026"
    gone = retirement("gpt-5-mini", date(2026, 12, 11))
    assert gone is not None and gone.retired
    assert retirement("gpt-4.1", BEFORE) == retirement("gpt-4.1", date(2026, 12, 6))
    assert retirement("fake-model", AFTER) is None


def test_the_built_in_default_is_not_a_model_known_to_shut_down() -> None:
    # A default baked into the code dies on a date: the table must not list it.
    assert retirement(DEFAULT_MODEL, date.today()) is None, DEFAULT_MODEL


def test_the_providers_date_wins_over_the_table() -> None:
    earlier = retirement("gpt-4o", BEFORE, date(2026, 12, 1))
    assert earlier is not None and earlier.retired and earlier.replacement == "gpt-6-luna"
    unknown = retirement("local-model", BEFORE, date(2027, 3, 1))
    assert unknown is not None and unknown.replacement is None and not unknown.retired


def test_shutdown_dates_are_read_from_the_models_list() -> None:
    body = json.dumps(
        {
            "data": [
                {"id": "b", "shutdown_date": "2026-12-11"},
                {"id": "a"},
                {"id": "c", "shutdown_date": "11/12/2026"},
                {"id": "d", "shutdown_date": "2026-02-30"},
                {"id": "e", "shutdown_date": 20261211},
            ]
        }
    ).encode()
    assert model_entries(body) == {
        "a": None,
        "b": date(2026, 12, 11),
        "c": None,
        "d": None,
        "e": None,
    }
    assert parse_date("2026-12-11") == date(2026, 12, 11) and parse_date(None) is None
    assert day_words(date(2027, 1, 4)) == "4 Jan 2027"


def test_a_model_that_is_gone_gives_way_to_one_that_is_offered() -> None:
    listed = ModelList(("fake-model", "gpt-5-nano", "gpt-6-luna"), listed=True)
    moved = model_for(listed, "gpt-5-nano", AFTER, "api.example")
    assert moved.model == "gpt-6-luna" and moved.retired is not None
    assert moved.notice == "gpt-5-nano shut down on 11 Dec 2026; this chat now uses gpt-6-luna."
    # the replacement isn't offered: the first offered model, and no one else moves
    no_luna = ModelList(("fake-model", "gpt-5-nano"), listed=True)
    fallback = model_for(no_luna, "gpt-5-nano", AFTER, "api.example")
    assert fallback.model == "fake-model" and fallback.retired is None
    # before the date nothing changes; a model not offered gives way at once
    assert model_for(listed, "gpt-5-nano", BEFORE, "api.example").model == "gpt-5-nano"
    absent = model_for(listed, "gpt-5", BEFORE, "api.example")
    assert absent.model == "fake-model"
    assert absent.notice == "gpt-5 isn't offered by api.example; this chat uses fake-model."
    # an unread list can't say what's offered: the table's replacement after the date
    unread = ModelList(("gpt-5-mini",), listed=False)
    assert model_for(unread, "gpt-5-mini", BEFORE, "x").model == "gpt-5-mini"
    assert model_for(unread, "gpt-5-mini", AFTER, "x").model == "gpt-6.1-terra"


# ---------------------------------------------------------------- through the server


def test_the_default_model_shuts_down_and_settings_move_with_the_chat(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    provider.models = ["fake-model", "gpt-5-mini", "gpt-6.1-terra"]
    clock = Clock(BEFORE)
    with live_server(data_dir, settings_model(data_dir, env, "gpt-5-mini"), today=clock) as server:
        offer = server.client.get("/api/composer").json()
        assert offer["models"] == ["fake-model", "gpt-5-mini", "gpt-6.1-terra"]
        assert offer["retiring"]["gpt-5-mini"] == {
            "shutdown_date": "2026-12-11",
            "shutdown_words": "11 Dec 2026",
            "replacement": "gpt-6.1-terra",
            "retired": False,
        }
        assert offer["substitutes"] == {}
        provider.reply("First answer.")
        thread_id, events = server.create_thread("Hello")
        assert notices(events) == [] and provider.chat_requests()[-1].body["model"] == "gpt-5-mini"
        provider.reply("Second answer.")
        assert answered(say(server, thread_id, "And then?"))

        clock.day = AFTER
        provider.reply("Third answer.")
        events = say(server, thread_id, "Still there?")
        assert answered(events)
        assert notices(events) == [
            "gpt-5-mini shut down on 11 Dec 2026; this chat and Settings' default model now "
            "use gpt-6.1-terra."
        ]
        assert provider.chat_requests()[-1].body["model"] == "gpt-6.1-terra"
        assert server.client.get("/api/settings").json()["settings"]["model"] == "gpt-6.1-terra"
        provider.reply("Fourth answer.")
        events = say(server, thread_id, "Good.")
        assert answered(events) and notices(events) == []
        assert provider.chat_requests()[-1].body["model"] == "gpt-6.1-terra"
        assert server.client.get("/api/composer").json()["retiring"]["gpt-5-mini"]["retired"]


def test_an_assistants_model_shuts_down_by_the_providers_date(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    provider.models = ["fake-model", "gpt-4o", "gpt-6-luna"]
    provider.shutdown_dates = {"gpt-4o": "2026-12-08"}  # earlier than the table's 2027-01-14
    clock = Clock(BEFORE)
    with live_server(data_dir, env, today=clock) as server:
        pirate = server.client.post(
            "/api/assistants", json={"name": "Pirate", "model": "gpt-4o", "tools": []}
        ).json()
        retiring = server.client.get("/api/composer").json()["retiring"]["gpt-4o"]
        assert (
            retiring["shutdown_words"] == "8 Dec 2026" and retiring["replacement"] == "gpt-6-luna"
        )
        provider.reply("Arr.")
        events = server.stream("threads.create", input=picking("Ahoy", assistant=pirate["id"]))
        thread_id = events[0]["thread"]["id"]
        assert provider.chat_requests()[-1].body["model"] == "gpt-4o"
        provider.reply("Arr again.")
        assert answered(say(server, thread_id, "More"))

        clock.day = date(2026, 12, 9)
        provider.reply("Arr, newer.")
        events = say(server, thread_id, "And now?")
        assert answered(events)
        assert notices(events) == [
            "gpt-4o shut down on 8 Dec 2026; this chat and the assistant 'Pirate' now use "
            "gpt-6-luna."
        ]
        assert provider.chat_requests()[-1].body["model"] == "gpt-6-luna"
        (moved,) = [
            a
            for a in server.client.get("/api/assistants").json()["assistants"]
            if a["id"] == pirate["id"]
        ]
        assert moved["model"] == "gpt-6-luna"


def test_a_chats_own_model_shuts_down_and_the_chat_moves(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    provider.models = ["fake-model", "gpt-5", "gpt-6.1-sol"]
    clock = Clock(BEFORE)
    with live_server(data_dir, env, today=clock) as server:
        # an assistant this chat doesn't run names the model too: it moves along
        server.client.post("/api/assistants", json={"name": "Scribe", "model": "gpt-5"})
        provider.reply("On gpt-5.")
        events = server.stream("threads.create", input=picking("Hi", model="gpt-5"))
        thread_id = events[0]["thread"]["id"]
        provider.reply("Still gpt-5.")
        assert answered(say(server, thread_id, "Again"))
        assert provider.chat_requests()[-1].body["model"] == "gpt-5"

        clock.day = AFTER
        provider.reply("On sol.")
        events = say(server, thread_id, "Later")
        assert answered(events)
        assert notices(events) == [
            "gpt-5 shut down on 11 Dec 2026; this chat and the assistant 'Scribe' now use "
            "gpt-6.1-sol."
        ]
        assistants = server.client.get("/api/assistants").json()["assistants"]
        assert {a["name"]: a["model"] for a in assistants}["Scribe"] == "gpt-6.1-sol"
        assert provider.chat_requests()[-1].body["model"] == "gpt-6.1-sol"
        choice = server.client.get(f"/api/threads/{thread_id}/choice").json()
        assert choice["model"] == "gpt-6.1-sol"
        # Settings never named it: they stay
        assert server.client.get("/api/settings").json()["settings"]["model"] == "fake-model"


def test_a_default_model_the_provider_does_not_offer_gives_way_with_a_notice(
    data_dir: Path, env: dict[str, str], provider: FakeProvider
) -> None:
    with live_server(data_dir, settings_model(data_dir, env, "fake-model-large")) as server:
        provider.reply("Earlier answer.")
        thread_id, _ = server.create_thread("Earlier question")
        provider.reply("Second earlier answer.")
        assert answered(say(server, thread_id, "Second question"))
        # Settings now name a model this provider doesn't have (another provider's name)
        saved = server.client.put("/api/settings", json={"settings": {"model": "gpt-gone"}})
        assert saved.status_code == 200, saved.text
        host = f"127.0.0.1:{provider.port}"
        offer = server.client.get("/api/composer").json()
        assert offer["substitutes"]["gpt-gone"]["model"] == "fake-model"

        provider.reply("Answered anyway.")
        events = say(server, thread_id, "Third question")
        assert answered(events)
        assert notices(events) == [f"gpt-gone isn't offered by {host}; this chat uses fake-model."]
        assert provider.chat_requests()[-1].body["model"] == "fake-model"
        # the chat remembers it: no second notice
        provider.reply("Again.")
        events = say(server, thread_id, "Fourth question")
        assert answered(events) and notices(events) == []

        # a new chat, first message: no 404, the offered model and the notice
        provider.reply("New chat answer.")
        new_id, events = server.create_thread("New chat")
        assert answered(events)
        assert notices(events) == [f"gpt-gone isn't offered by {host}; this chat uses fake-model."]
        # a model the user picks that isn't offered is still refused before saving
        refused = server.post(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": new_id, "input": picking("Hi", model="gpt-imaginary")},
            }
        )
        assert refused.status_code == 400 and "isn't offered" in refused.json()["error"]["message"]
