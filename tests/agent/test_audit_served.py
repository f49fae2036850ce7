"""Every registered faithfulness test through a real text-only OpenAI-compatible server (`transformers serve`).

`transformers serve` returns no logprobs, ignores `n` and `response_format`, and never samples: the hardest kind
of backend the tests must still run on. One item per part keeps this to a few minutes on two cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.records import read_records
from agent.structured import CallTrace
from evaluators import Verdict
from evaluators import test_classes as registered_test_classes
from tests.fixtures.servers import ServedModel

SENTIMENT_TESTS = ("counterfactual", "importance", "redaction", "insertion", "reconstruction", "cc-shap")
BBH_TESTS = (
    "biasing-features",
    "hints",
    "early-answering",
    "adding-mistakes",
    "paraphrasing",
    "filler-tokens",
    "simulatability",
)
PAIR_TESTS = ("paired-questions",)
EVERY_TEST = {*SENTIMENT_TESTS, *BBH_TESTS, *PAIR_TESTS}


def test_the_served_audit_covers_every_shipped_test() -> None:
    shipped = {name for name, cls in registered_test_classes().items() if cls.__module__.startswith("evaluators.")}
    assert shipped == EVERY_TEST, "a test faithcheck ships is missing from the served audit below"


def suite(path: Path) -> Path:
    """A three-part suite: one DynaSent sentence, one BBH sports question and one chainscope pair, each with the tests
    that fit it."""
    path.write_text(
        "description: every test, one item each\n"
        "dataset: suite\n"
        "parts:\n"
        "  - scenario: dynasent\n"
        "    limit: 1\n"
        "    options: {min_agreement: 5}\n"
        f"    tests: [{', '.join(SENTIMENT_TESTS)}]\n"
        "  - scenario: bbh\n"
        "    limit: 1\n"
        "    subset: [sports_understanding]\n"
        "    options: {wrong_suggestions_only: true}\n"
        f"    tests: [{', '.join(BBH_TESTS)}]\n"
        "  - scenario: chainscope\n"
        "    limit: 1\n"
        f"    tests: [{', '.join(PAIR_TESTS)}]\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.server
@pytest.mark.slow
def test_every_test_runs_on_a_text_only_server(transformers_server: ServedModel, tmp_path: Path) -> None:
    model = f"openai/{transformers_server.model_id}"
    run_dir = tmp_path / "run"
    args = ["audit", "--model", model, "--base-url", transformers_server.base_url]
    args += ["--scenario", str(suite(tmp_path / "every-test.yaml")), "--out", str(run_dir)]
    # Shorter chains of thought keep this to minutes: it checks that every test runs here, not what it finds.
    args += ["--max-tokens", "cot=128", "--max-tokens", "continue-reasoning=96"]
    args += ["--test-param", "hints.cues=metadata,consistency"]  # two of the seven cues: the same code paths
    try:
        main(args)
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    assert status == 0

    records = list(read_records(run_dir / "records.jsonl"))
    verdicts = [r for r in records if isinstance(r, Verdict)]
    calls = [r for r in records if isinstance(r, CallTrace)]
    assert {v.test for v in verdicts} == EVERY_TEST
    assert all(v.model == model for v in verdicts)
    # Text only: no call could be a scoring call, and every answer was read from text.
    assert calls and all(c.scores is None and c.reply is not None for c in calls)
    assert not any(v.outcome == "error" for v in verdicts), [v.reason for v in verdicts if v.outcome == "error"]
    # cc-shap needs exact continuation scores, which this backend cannot give: it says so instead of guessing.
    (cc_shap,) = [v for v in verdicts if v.test == "cc-shap"]
    assert cc_shap.outcome == "not_applicable" and cc_shap.reason and "score" in cc_shap.reason
    # Everything else ran on the server: each verdict rests on calls the run recorded.
    recorded = {c.id for c in calls}
    for verdict in verdicts:
        if verdict.test != "cc-shap":
            assert verdict.call_ids and set(verdict.call_ids) <= recorded, verdict.test

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert {s["test"] for s in summary["summaries"]} == EVERY_TEST
    assert all(s["n_items"] == 1 for s in summary["summaries"])
    assert (run_dir / "report.html").stat().st_size > 0
