"""summary.json: per scenario part and test, recomputed from every verdict in records.jsonl.

Recomputing from the file (never from what one session happened to hold in memory) is what makes a resumed run
end with the same summary as an uninterrupted one: verdicts are grouped by (scenario, test), ordered by the
items' sampled order from the header, and summarised by the test's own `summarise` (so test-specific figures
come out the same whatever order the items finished in).

Usage over the whole run is counted from the recorded calls, so it adds up across sessions, including sessions
that were killed: `calls_sent` are calls that reached the backend, `cache_hits` those answered by the cache or
by an identical request in flight, and tokens are those of sent calls. Retries and errors are not recorded per
call; they come from the sessions' RunEnd records plus the current session's counters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.models import UsageStats
from agent.records import RunHeader, RunSummary
from agent.run._directory import RunState
from agent.structured import CallTrace
from evaluators import TestSummary, Verdict, summarise_outcomes, test_classes


def usage_from_traces(traces: Sequence[CallTrace]) -> dict[str, UsageStats]:
    """Model name -> calls sent, cache hits and tokens of sent calls, counted from call records."""
    usage: dict[str, UsageStats] = {}
    for trace in traces:
        stats = usage.setdefault(trace.model, UsageStats())
        if trace.cached:
            stats.cache_hits += 1
            continue
        stats.calls_sent += 1
        stats.prompt_tokens += trace.usage.prompt_tokens
        stats.completion_tokens += trace.usage.completion_tokens
    return usage


def run_usage(state: RunState, session: Mapping[str, UsageStats] | None = None) -> dict[str, UsageStats]:
    """Usage over every session: calls and tokens from the records, retries and errors from the session counters."""
    usage = usage_from_traces(state.traces)
    counters: list[Mapping[str, UsageStats]] = [end.usage for end in state.ends]
    if session is not None:
        counters.append(session)
    for source in counters:
        for name, stats in source.items():
            total = usage.setdefault(name, UsageStats())
            total.retries += stats.retries
            total.errors += stats.errors
    return usage


def test_summaries(header: RunHeader, verdicts: Sequence[Verdict]) -> list[TestSummary]:
    """One TestSummary per (scenario part, test) in header order, with each test's own figures."""
    part_tests: Mapping[str, Sequence[str]] = header.options.get("part_tests") or {}
    classes = test_classes()
    model = str(header.model.get("name", ""))
    groups: dict[tuple[str | None, str], list[Verdict]] = {}
    for verdict in verdicts:
        groups.setdefault((verdict.scenario, verdict.test), []).append(verdict)
    order: list[tuple[str | None, str]] = [
        (ref.name, test) for ref in header.scenarios for test in part_tests.get(ref.name, header.tests)
    ]
    order += [key for key in groups if key not in order]
    positions = {ref.name: {item: i for i, item in enumerate(ref.item_ids)} for ref in header.scenarios}
    summaries = []
    for scenario, test in order:
        group = groups.get((scenario, test), [])
        rank = positions.get(scenario or "", {})
        group = sorted(group, key=lambda v: (rank.get(v.item_id, len(rank)), v.item_id))
        if test in classes:
            summaries.append(classes[test](header.test_params.get(test)).summarise(group, model, scenario))
        else:  # a run read by an installation that lacks the test: counts and rates, without its figures
            summaries.append(summarise_outcomes(test, model, group, scenario))
    return summaries


def summarise_run(
    state: RunState,
    *,
    completed: bool,
    wall_time_s: float,
    session_usage: Mapping[str, UsageStats] | None = None,
) -> RunSummary:
    """The RunSummary of everything records.jsonl holds."""
    return RunSummary(
        run_id=state.header.run_id,
        model=str(state.header.model.get("name", "")),
        summaries=test_summaries(state.header, list(state.verdicts.values())),
        usage=run_usage(state, session_usage),
        wall_time_s=round(wall_time_s, 3),
        completed=completed,
    )
