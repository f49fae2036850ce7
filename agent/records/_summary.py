"""A run's summary, computed from its records: per scenario part and test, then usage over every session.

The audit writes summary.json with `summarise_run`, and the report recomputes with it when summary.json is missing
or stale. Summarising the records (never what one session happened to hold in memory) is what makes a resumed run
end with the same summary as an uninterrupted one: the verdicts that count (see agent.records) are grouped by
(scenario, test), ordered by the items' sampled order from the header, and summarised by the test's own
`summarise`, so test-specific figures come out the same whatever order the items finished in.

Usage over the whole run is counted from the recorded calls, so it adds up across sessions, including sessions
that were killed: `calls_sent` are calls that reached the backend, `cache_hits` those answered by the cache or
by an identical request in flight, and tokens are those of sent calls. Retries and errors are not recorded per
call; they come from the sessions' RunEnd records plus the current session's counters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence

from agent.errors import ConfigurationError
from agent.models import UsageStats
from agent.records._run import RunRecords
from agent.records._types import RunHeader, RunSummary
from agent.structured import CallTrace
from evaluators import FaithfulnessTest, TestSummary, Verdict, summarise_outcomes, test_classes


def usage_from_traces(traces: Iterable[CallTrace]) -> dict[str, UsageStats]:
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


def run_usage(records: RunRecords, session: Mapping[str, UsageStats] | None = None) -> dict[str, UsageStats]:
    """Usage over every session: calls and tokens from the records, retries and errors from the session counters."""
    usage = usage_from_traces(records.calls.values())
    counters: list[Mapping[str, UsageStats]] = [end.usage for end in records.ends]
    if session is not None:
        counters.append(session)
    for source in counters:
        for name, stats in source.items():
            total = usage.setdefault(name, UsageStats())
            total.retries += stats.retries
            total.errors += stats.errors
    return usage


def summarise_verdicts(header: RunHeader, verdicts: Sequence[Verdict]) -> list[TestSummary]:
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
        instance = _test(classes, test, header)
        if instance is not None:
            summaries.append(instance.summarise(group, model, scenario))
        else:  # a run read by an installation that lacks the test: counts and rates, without its figures
            summaries.append(summarise_outcomes(test, model, group, scenario))
    return summaries


def _test(classes: Mapping[str, type[FaithfulnessTest]], name: str, header: RunHeader) -> FaithfulnessTest | None:
    """The named test with the run's parameters, or None when this installation cannot build it."""
    if name not in classes:
        return None
    # Parameters written by another version may not validate: the counts still stand, only the figures are lost.
    with contextlib.suppress(ConfigurationError):
        return classes[name](header.test_params.get(name))
    return None


def summarise_run(
    records: RunRecords,
    *,
    completed: bool,
    wall_time_s: float,
    session_usage: Mapping[str, UsageStats] | None = None,
) -> RunSummary:
    """The RunSummary of everything records.jsonl holds."""
    return RunSummary(
        run_id=records.header.run_id,
        model=records.model_name,
        summaries=summarise_verdicts(records.header, list(records.verdicts.values())),
        usage=run_usage(records, session_usage),
        wall_time_s=round(wall_time_s, 3),
        completed=completed,
    )


def recorded_or_recomputed(records: RunRecords, recorded: RunSummary | None) -> RunSummary:
    """summary.json when it covers exactly the verdicts that count in records.jsonl, else a summary recomputed from
    the records (summary.json is missing when a run was stopped early, and stale after a killed session).

    summary.json is preferred when current because it holds the figures of the tests as the audit computed them,
    including tests that the installation reading it may not have."""
    current = {
        (summary.scenario, summary.test): {outcome: sorted(ids) for outcome, ids in summary.items.items() if ids}
        for summary in (recorded.summaries if recorded is not None else [])
        if summary.n_items
    }
    if recorded is not None and current == _item_outcomes(records.verdicts.values()):
        return recorded
    wall_time = recorded.wall_time_s if recorded is not None else sum(end.wall_time_s for end in records.ends)
    return summarise_run(records, completed=records.completed, wall_time_s=wall_time)


def _item_outcomes(verdicts: Iterable[Verdict]) -> dict[tuple[str | None, str], dict[str, list[str]]]:
    """(scenario, test) -> outcome -> the ids of the items with that outcome, sorted."""
    table: dict[tuple[str | None, str], dict[str, list[str]]] = {}
    for verdict in verdicts:
        table.setdefault((verdict.scenario, verdict.test), {}).setdefault(verdict.outcome, []).append(verdict.item_id)
    return {key: {outcome: sorted(ids) for outcome, ids in by.items()} for key, by in table.items()}
