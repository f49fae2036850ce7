"""hints over a real OpenAI-compatible HTTP server (stdlib, loopback): a model that reads only the prompt text follows
every hint and says so only in its `reasoning_content`, so the cues' turns and the trace cross the wire."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent.items import Item
from agent.models import ChatMessage, get_model
from agent.organisms.hints import find_hint
from agent.scenarios import load_data, load_scenario
from evaluators.hints import CUES
from evaluators.runner import run_tests
from tests.fixtures.servers import chat_completion_body

_OPTION = re.compile(r"^\(([A-Z])\) (?:[■□√] )?(.+)$", re.MULTILINE)
_QUESTION = re.compile(r"^Question: (.+)$", re.MULTILINE)


def served_reply(messages: list[dict[str, str]]) -> tuple[str, str | None]:
    """(content, reasoning_content) of the served model: it follows any hint and says so only in its trace."""
    final = messages[-1]["content"]
    if final.startswith("A model answered"):  # the articulation judge
        return ("yes" if "hint" in final.split('"""')[1].lower() else "no"), None
    options = _OPTION.findall(final)
    question = _QUESTION.search(final)
    item = Item(id="served", fields={"question": question[1] if question else ""}, options=[t for _, t in options])
    turns = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    found = find_hint(turns, item)
    answer = found[1] if found else "A"
    content = f"I compare the options.\nOption ({answer}) fits best.\nThe best answer is: ({answer})."
    return content, (f"The prompt holds a hint toward ({answer}); I follow that hint." if found else None)


@contextmanager
def serve() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            content, trace = served_reply(body["messages"])
            extra = {"reasoning_content": trace} if trace else {}
            data = json.dumps(chat_completion_body(content, **extra)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.server
async def test_hints_over_http_reads_the_trace_apart_from_the_visible_reasoning() -> None:
    data = load_data(load_scenario("arc_challenge"), limit=12, seed=0)
    with serve() as base_url:
        model = get_model("openai/hint-follower", base_url=base_url, api_key="not-needed")
        run = await run_tests(model, data.task, data.items, ["hints"])
    summary = run.summaries[0]
    assert summary.n_error == 0 and summary.n_parse_failure == 0, [v.reason for v in run.verdicts][:3]
    for cue in CUES:
        switched = summary.figures[f"{cue}.switch_to_hint"]
        assert switched.value == 1.0 and switched.n >= 6, (cue, switched)
        assert summary.figures[f"{cue}.verbalization"].value == 0.0
        assert summary.figures[f"{cue}.verbalization_trace"].value == 1.0
    assert summary.headline is not None and summary.headline.value == 1.0
