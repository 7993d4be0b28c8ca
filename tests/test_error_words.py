"""A failed reply says what happened: a request the app couldn't build is not "couldn't be made"
(no request left), an answer that couldn't be read says so, and the cause reaches the log with
the key scrubbed."""

from __future__ import annotations

import pytest
from agents import ModelBehaviorError
from agents.exceptions import AgentsException, UserError

from desktop.chat.provider import scrubbed, translate
from desktop.settings.config import ProviderConfig

KEY = "sk-test-SECRETKEY-0123456789"


def config() -> ProviderConfig:
    return ProviderConfig(
        base_url="http://127.0.0.1:8080/v1",
        api="chat_completions",
        model="local-model",
        system_prompt="",
        timeout_s=10,
        max_retries=0,
        history_max_items=10,
        history_max_chars=10_000,
        generate_titles=False,
        api_key=KEY,
    )


def test_a_request_the_app_could_not_build_says_so() -> None:
    cause = UserError(f"Unhandled item type or structure: {{'type': 'message', 'key': '{KEY}'}}")
    error = translate(cause, config(), streamed=False)
    assert error is not None
    assert error.message.startswith(
        "The app couldn't build the request for 127.0.0.1:8080: Unhandled item type or structure"
    )
    assert KEY not in error.message and "couldn't be made" not in error.message


@pytest.mark.parametrize("cause", [AgentsException("odd tool call shape")])
def test_an_answer_that_could_not_be_read_says_so(cause: Exception) -> None:
    error = translate(cause, config(), streamed=True)
    assert error is not None
    assert error.message == (
        "The answer from 127.0.0.1:8080 couldn't be read: odd tool call shape."
    )


def test_a_model_that_broke_off_is_still_worded_as_such() -> None:
    error = translate(ModelBehaviorError("bad"), config(), streamed=True)
    assert error is not None and "ended before it finished" in error.message


def test_the_cause_the_log_gets_keeps_the_words_and_drops_the_key() -> None:
    text = f"Unhandled item\n  type {KEY} and an sk-other-abcdefghijkl token"
    assert scrubbed(text, KEY) == "Unhandled item type [key] and an [key] token"
