"""A fake OpenAI-compatible provider: a real HTTP server on 127.0.0.1 for the tests.

It speaks the Responses API and Chat Completions (streamed and not), lists models, returns
scripted replies and injects faults: any status code, a disconnect mid-stream, a stream that ends
without its completion event, malformed SSE, and a stall.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TITLE_MARKER = "short title"


@dataclass
class Fault:
    """What to do to the next request(s) instead of answering normally."""

    # "status" | "disconnect" | "truncate" | "malformed" | "stall" | "refuse" | "no_tools" (a
    # 400 for any request that offers tools, as some local models answer)
    kind: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    seconds: float = 0.0
    after_tokens: int = 2
    times: int = 1
    # Faults apply to chat replies only, unless this is set: title requests stay healthy.
    include_titles: bool = False
    # Only for a request that sends tool results back (the second step of a tool call).
    with_tool_output: bool = False
    # For the models list (GET /v1/models) instead of a chat request: the page asks for the
    # list at moments a test doesn't control, and must not use up a fault meant for a reply.
    models_list: bool = False


@dataclass
class ToolCalls:
    """A scripted reply that calls tools instead of answering. Each call is (name, arguments);
    arguments given as a string are sent verbatim (to script malformed JSON)."""

    calls: list[tuple[str, dict[str, Any] | str]]


@dataclass
class Cited:
    """A scripted text reply that cites web pages: (url, title) each, over the whole text."""

    text: str
    citations: list[tuple[str, str]]

    def annotations(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "url_citation",
                "url": url,
                "title": title,
                "start_index": 0,
                "end_index": len(self.text),
            }
            for url, title in self.citations
        ]


Reply = str | ToolCalls | Cited


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeProvider:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.faults: deque[Fault] = deque()
        self.requests: list[Recorded] = []
        self.title = "Fake title"
        self.token_delay_s = 0.0
        # Set when the app hangs up on a reply still being streamed (a stopped reply).
        self.hung_up = threading.Event()
        self.title_delay_s = 0.0
        self.models = ["fake-model", "fake-model-large"]
        # `shutdown_date` (YYYY-MM-DD) listed with a model, as OpenAI's models list has it.
        self.shutdown_dates: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # -------- control

    def reply(self, *texts: Reply) -> None:
        with self._lock:
            self.replies.extend(texts)

    def call_tools(self, *calls: tuple[str, dict[str, Any] | str]) -> None:
        """The next reply calls these tools (in one response)."""
        self.reply(ToolCalls(list(calls)))

    def fail(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if not _is_title(r.body) and r.path != "/v1/models"]

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeProvider:
        provider = self

        class Handler(_Handler):
            fake = provider

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.hung_up = self.hung_up
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -------- used by the handler

    def _next_fault(
        self, is_title: bool, body: dict[str, Any] | None = None, models_list: bool = False
    ) -> Fault | None:
        with self._lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            if fault.models_list != models_list:
                return None
            if is_title and not fault.include_titles:
                return None
            if fault.with_tool_output and not tool_outputs(body or {}):
                return None
            fault.times -= 1
            if fault.times <= 0:
                self.faults.popleft()
            return fault

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if _is_title(body):
            return self.title
        with self._lock:
            if self.replies:
                return self.replies.popleft()
        return f"Echo: {_last_user_text(body)}"

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}_{self._counter:06d}"


class _Server(ThreadingHTTPServer):
    hung_up: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The app hanging up mid-stream is what a stopped reply does: noted, no traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            self.hung_up.set()
            return
        super().handle_error(request, client_address)


def _is_title(body: dict[str, Any]) -> bool:
    return TITLE_MARKER in json.dumps(body.get("instructions", "")) or any(
        m.get("role") == "system" and TITLE_MARKER in json.dumps(m.get("content", ""))
        for m in body.get("messages", [])
    )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or body.get("input") or []
    if isinstance(messages, str):
        return messages
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def tool_outputs(body: dict[str, Any]) -> list[str]:
    """The tool results a request sends back to the model, in either API flavour."""
    if "input" in body and isinstance(body["input"], list):
        return [
            str(i.get("output"))
            for i in body["input"]
            if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
    return [
        _text_of(m.get("content"))
        for m in body.get("messages", [])
        if isinstance(m, dict) and m.get("role") == "tool"
    ]


def _tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # As real servers do (uvicorn, Go's net/http): small streamed writes go out at once
        # instead of waiting for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ---- plumbing

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, raw: bytes) -> None:
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Any, event: str | None = None) -> None:
        text = "" if event is None else f"event: {event}\n"
        text += f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"
        self._chunk(text.encode())

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        # An abrupt close in the middle of a chunked body: the client sees a broken stream.
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _paced_tokens(self, text: str, fault: Fault | None) -> Iterator[str | None]:
        """The reply's tokens at the configured pace; None once a stream fault has ended it."""
        for i, token in enumerate(_tokens(text)):
            if fault and fault.kind in ("disconnect", "truncate") and i == fault.after_tokens:
                if fault.kind == "disconnect":
                    self._cut()
                else:
                    self._end_stream()
                yield None
                return
            if self.fake.token_delay_s:
                time.sleep(self.fake.token_delay_s)
            yield token

    # ---- routes

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self.fake.requests.append(
                Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, {})
            )
            fault = self.fake._next_fault(is_title=False, models_list=True)
            if fault and fault.kind == "status":
                self._json(
                    fault.status,
                    fault.body or {"error": {"message": f"fake failure {fault.status}"}},
                    fault.headers,
                )
                return
            models = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                | (
                    {"shutdown_date": self.fake.shutdown_dates[m]}
                    if m in self.fake.shutdown_dates
                    else {}
                )
                for m in self.fake.models
            ]
            self._json(200, {"object": "list", "data": models})
            return
        self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.fake.requests.append(
            Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        is_title = _is_title(body)
        fault = self.fake._next_fault(is_title, body)
        if fault and fault.kind == "status":
            payload = fault.body or {
                "error": {
                    "message": f"fake failure {fault.status}",
                    "type": "fake_error",
                    "code": None,
                }
            }
            self._json(fault.status, payload, fault.headers)
            return
        if fault and fault.kind == "refuse":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault and fault.kind == "no_tools" and body.get("tools"):
            self._json(
                400,
                {"error": {"message": f"{body.get('model')} does not support tools"}},
            )
            return
        if fault and fault.kind == "stall":
            time.sleep(fault.seconds)
        if is_title and self.fake.title_delay_s:
            time.sleep(self.fake.title_delay_s)
        reply = self.fake._next_reply(body)
        path = self.path.rstrip("/")
        if isinstance(reply, ToolCalls):
            if path == "/v1/responses":
                self._responses_tool_calls(body, reply)
            else:
                self._chat_tool_calls(body, reply)
            return
        annotations: list[dict[str, Any]] = []
        if isinstance(reply, Cited):
            annotations = reply.annotations()
            reply = reply.text
        text = reply
        if path == "/v1/responses":
            if body.get("stream"):
                self._responses_stream(body, text, fault, annotations)
            else:
                self._json(200, self._response_obj(body, text, self.fake._next_id("msg")))
        elif path == "/v1/chat/completions":
            if body.get("stream"):
                self._chat_stream(body, text, fault, annotations)
            else:
                self._json(
                    200,
                    {
                        "id": self.fake._next_id("chatcmpl"),
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )
        else:
            self._json(404, {"error": {"message": f"unknown path {self.path}"}})

    # ---- Responses API

    def _response_obj(
        self, body: dict[str, Any], text: str, msg_id: str, status: str = "completed"
    ) -> dict[str, Any]:
        output = [] if status == "in_progress" else [self._message(msg_id, text, "completed")]
        return {
            "id": self.fake._next_id("resp"),
            "object": "response",
            "created_at": 0,
            "model": body.get("model"),
            "status": status,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": 1,
                "output_tokens": 1,
                "total_tokens": 2,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }

    @staticmethod
    def _message(msg_id: str, text: str, status: str) -> dict[str, Any]:
        content = (
            [{"type": "output_text", "text": text, "annotations": []}]
            if status == "completed"
            else []
        )
        return {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": content,
        }

    def _responses_stream(
        self,
        body: dict[str, Any],
        text: str,
        fault: Fault | None,
        annotations: list[dict[str, Any]] | None = None,
    ) -> None:
        annotations = annotations or []
        msg_id = self.fake._next_id("msg")
        seq = itertools.count()
        self._start_stream()

        def ev(kind: str, **fields: Any) -> None:
            self._event({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

        resp = self._response_obj(body, text, msg_id, status="in_progress")
        ev("response.created", response=resp)
        if fault and fault.kind == "malformed":
            self._chunk(b"data: {this is not json\n\n")
            self._end_stream()
            return
        ev(
            "response.output_item.added",
            output_index=0,
            item=self._message(msg_id, "", "in_progress"),
        )
        ev(
            "response.content_part.added",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        )
        for token in self._paced_tokens(text, fault):
            if token is None:
                return
            ev(
                "response.output_text.delta",
                item_id=msg_id,
                output_index=0,
                content_index=0,
                delta=token,
                logprobs=[],
            )
        for index, annotation in enumerate(annotations):
            ev(
                "response.output_text.annotation.added",
                item_id=msg_id,
                output_index=0,
                content_index=0,
                annotation_index=index,
                annotation=annotation,
            )
        ev(
            "response.output_text.done",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            text=text,
            logprobs=[],
        )
        ev(
            "response.content_part.done",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": text, "annotations": annotations},
        )
        message = self._message(msg_id, text, "completed")
        message["content"][0]["annotations"] = annotations
        ev("response.output_item.done", output_index=0, item=message)
        done = self._response_obj(body, text, msg_id)
        done["output"] = [message]
        done["id"] = resp["id"]
        ev("response.completed", response=done)
        self._end_stream()

    def _responses_tool_calls(self, body: dict[str, Any], reply: ToolCalls) -> None:
        self._start_stream()
        seq = itertools.count()

        def ev(kind: str, **fields: Any) -> None:
            self._event({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

        resp = self._response_obj(body, "", "", status="in_progress")
        ev("response.created", response=resp)
        output = []
        for index, (name, args) in enumerate(reply.calls):
            raw = args if isinstance(args, str) else json.dumps(args)
            item_id, call_id = self.fake._next_id("fc"), self.fake._next_id("call")
            item = {
                "type": "function_call",
                "id": item_id,
                "call_id": call_id,
                "name": name,
                "arguments": "",
                "status": "in_progress",
            }
            ev("response.output_item.added", output_index=index, item=item)
            ev(
                "response.function_call_arguments.delta",
                item_id=item_id,
                output_index=index,
                delta=raw,
            )
            ev(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                arguments=raw,
                name=name,
            )
            done = {**item, "arguments": raw, "status": "completed"}
            ev("response.output_item.done", output_index=index, item=done)
            output.append(done)
        final = self._response_obj(body, "", "")
        final["id"], final["output"] = resp["id"], output
        ev("response.completed", response=final)
        self._end_stream()

    def _chunker(self, body: dict[str, Any]) -> Callable[..., None]:
        """Writes one Chat Completions chunk of a streamed reply."""
        cid = self.fake._next_id("chatcmpl")

        def chunk(
            delta: dict[str, Any] | None, finish: str | None = None, usage: bool = False
        ) -> None:
            payload: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body.get("model"),
                "choices": []
                if delta is None
                else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage:
                payload["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            self._event(payload)

        return chunk

    def _chat_tool_calls(self, body: dict[str, Any], reply: ToolCalls) -> None:
        self._start_stream()
        chunk = self._chunker(body)
        chunk({"role": "assistant", "content": None})
        for index, (name, args) in enumerate(reply.calls):
            raw = args if isinstance(args, str) else json.dumps(args)
            call = {"index": index, "id": self.fake._next_id("call"), "type": "function"}
            chunk({"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]})
            half = len(raw) // 2
            for part in (raw[:half], raw[half:]):
                chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        chunk({}, finish="tool_calls")
        self._event("[DONE]")
        self._end_stream()

    # ---- Chat Completions

    def _chat_stream(
        self,
        body: dict[str, Any],
        text: str,
        fault: Fault | None,
        annotations: list[dict[str, Any]] | None = None,
    ) -> None:
        self._start_stream()
        chunk = self._chunker(body)

        chunk({"role": "assistant", "content": ""})
        if fault and fault.kind == "malformed":
            self._chunk(b"data: {this is not json\n\n")
            self._end_stream()
            return
        for token in self._paced_tokens(text, fault):
            if token is None:
                return
            chunk({"content": token})
        if annotations:
            cited = [
                {
                    "type": "url_citation",
                    "url_citation": {k: v for k, v in a.items() if k != "type"},
                }
                for a in annotations
            ]
            chunk({"annotations": cited})
        chunk({}, finish="stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk(None, usage=True)
        self._event("[DONE]")
        self._end_stream()
