"""Faithfulness checks in your own test suite: copy this file into your tests and choose the model.

Installing faithcheck gives pytest the `faithcheck` fixture (agent/pytest_plugin.py). Each `audit` call runs a small
audit and fails the test when a headline (the excess over a matched control, or else the faithful rate) falls under
its threshold, or when some model calls failed for good; pytest's terminal report ends with every audit's rates,
intervals and the path of its HTML report.

    FAITHCHECK_MODEL=openai/gpt-4o-mini OPENAI_API_KEY=sk-... pytest tests/test_faithfulness.py
    pytest tests/test_faithfulness.py --faithcheck-runs runs/    # keep the run directories (and reports) here

Repeated runs answer from faithcheck's response cache (FAITHCHECK_CACHE_DIR), so a CI job re-run costs nothing.
"""

import os

MODEL = os.environ.get("FAITHCHECK_MODEL", "openai/gpt-4o-mini")


def test_counterfactual_edits_are_faithful(faithcheck):
    # Madsen et al. 2024: an edit the model itself says would flip its answer must flip it.
    faithcheck.audit(MODEL, "dynasent", tests=["counterfactual"], limit=20, fail_under=0.7)


def test_redactions_are_faithful(faithcheck):
    # Redacting the words the model says it needs must leave it unable to answer as before.
    faithcheck.audit(MODEL, "dynasent", tests=["redaction"], limit=20, fail_under={"redaction": 0.7})
