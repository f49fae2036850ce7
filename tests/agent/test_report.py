"""The HTML report: escaping, charts, tables, drill-down, provenance, combined runs, damaged and unfinished runs."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from agent.cli import main as cli_main
from agent.errors import ConfigurationError
from agent.records import RecordWriter, RunSummary
from agent.report import load_run, markdown_report, render_report
from agent.report._chart import RateBar, rate_chart
from agent.report._diff import word_diff
from evaluators import Outcome, Verdict, summarise_outcomes
from tests.fixtures.runs import INJECTED_IMG, INJECTED_SCRIPT, ITEMS, SCENARIO, TESTS, write_run

FAITHFUL: list[Outcome] = ["faithful"]
UNFAITHFUL: list[Outcome] = ["unfaithful"]


class Page(HTMLParser):
    """The elements of a page (tag, attributes, position) and the text of its <style>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data

    def find(self, tag: str, css_class: str | None = None) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and (css_class is None or css_class in (attrs.get("class") or "").split())
        ]


def render(run_dir: Path) -> str:
    return render_report([run_dir]).read_text(encoding="utf-8")


def test_report_is_written_into_the_run_directory(sample_run: Path) -> None:
    out = render_report([sample_run])
    assert out == sample_run.resolve() / "report.html"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_model_text_is_escaped_never_markup(sample_run: Path) -> None:
    html = render(sample_run)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    assert INJECTED_SCRIPT not in html
    assert INJECTED_IMG not in html
    # Item text with markup of its own is text too.
    assert "&lt;b&gt;every&lt;/b&gt;" in html
    page = Page(html)
    assert page.find("script") == []
    assert page.find("img") == []
    assert page.find("b") == []


def test_a_content_security_policy_allows_only_the_page_stylesheet(sample_run: Path) -> None:
    page = Page(render(sample_run))
    policies = [a["content"] for a in page.find("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert len(policies) == 1
    policy = policies[0] or ""
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "script-src" not in policy  # falls back to default-src 'none'
    digest = base64.b64encode(hashlib.sha256(page.style.encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    # Nothing the policy would block: no inline style attributes, no external resources.
    assert [attrs for _, attrs in page.elements if "style" in attrs] == []
    for _, attrs in page.elements:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith(("#", "data:")), (key, value)


def test_one_chart_per_test_with_a_bar_per_summary(sample_run: Path) -> None:
    page = Page(render(sample_run))
    charts = page.find("svg", "rate-chart")
    assert len(charts) == len(TESTS)
    assert [c["data-rows"] for c in charts] == ["1"] * len(TESTS)
    assert len(page.find("rect", "bar")) == len(TESTS)
    assert len(page.find("g", "interval")) == len(TESTS)


def test_chart_bars_and_whiskers_are_drawn_to_scale() -> None:
    chart = rate_chart(
        "t",
        [
            RateBar("a", "s", "#000", rate=0.75, low=0.3, high=0.95, n=4),
            RateBar("b", "s", "#111", rate=None, low=None, high=None, n=0),
            RateBar("c" * 80, "s", "#222", rate=1.0, low=0.5, high=1.0, n=2),
        ],
    )
    full, empty, long = chart.rows
    assert full.bar_width == pytest.approx(0.75 * chart.plot_width, abs=0.01)
    assert full.x_low == pytest.approx(chart.plot_x + 0.3 * chart.plot_width, abs=0.01)
    assert full.x_high == pytest.approx(chart.plot_x + 0.95 * chart.plot_width, abs=0.01)
    assert full.note == "75%  [30–95]"
    assert empty.bar_width == 0 and empty.note == "no decided items"
    assert long.bar_width == pytest.approx(chart.plot_width, abs=0.01)
    assert long.label.endswith("…") and len(long.label) < 80 and "c" * 80 in long.title
    assert [t.label for t in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert empty.y > full.y and chart.height > long.y


def test_a_closed_details_element_per_test_and_item(sample_run: Path) -> None:
    page = Page(render(sample_run))
    items = page.find("details", "item")
    assert len(items) == len(TESTS) * len(ITEMS)
    assert all("open" not in attrs for attrs in items)
    ids = [attrs["id"] for _, attrs in page.elements if attrs.get("id")]
    assert len(ids) == len(set(ids)), "element ids must be unique"
    # Every outcome class appears on the items that have it, for the CSS filter.
    classes = Counter(c for attrs in items for c in (attrs["class"] or "").split() if c.startswith("o-"))
    assert classes == Counter(
        {"o-faithful": 6, "o-unfaithful": 3, "o-not_applicable": 1, "o-parse_failure": 1, "o-error": 1}
    )


def test_the_drill_down_shows_input_explanation_evidence_and_calls(sample_run: Path) -> None:
    html = render(sample_run)
    run = load_run(sample_run)
    verdict = next(v for v in run.verdicts if v.evidence)
    evidence = verdict.evidence[0]
    assert ">model&#39;s own counterfactual<" in html
    assert "replaced: gripping -&gt; dull" in html
    assert '<del class="removed">gripping</del>' in html
    assert '<ins class="added">dull</ins>' in html
    assert "answer on edit == target" in html
    assert (evidence.perturbed_output or "") in html
    assert "the model&#39;s answer was not a label the edit could flip" in html
    page = Page(html)
    # Every link inside the page leads to an element that exists; calls not in the records are named, not linked.
    ids = {attrs["id"] for _, attrs in page.elements if attrs.get("id")}
    links = [attrs["href"] for attrs in page.find("a") if attrs.get("href")]
    assert links and all(link[1:] in ids for link in links if link and link.startswith("#"))
    call_links = [link for link in links if link and link.startswith("#call-")]
    assert len(call_links) == sum(len([c for c in v.call_ids if c in run.calls]) for v in run.verdicts)
    assert "missing-call (not in the records)" in html
    # The calls themselves: messages, raw reply, template and hash, cached flag.
    call = next(iter(run.calls.values()))
    assert call.template and call.template_hash
    assert call.template in html and call.template_hash in html
    assert "You are a careful sentiment classifier." in html
    assert '<span class="tag cached">cached</span>' in html


def test_the_table_reports_counts_intervals_and_test_figures(sample_run: Path) -> None:
    html = render(sample_run)
    summary = RunSummary.model_validate_json((sample_run / "summary.json").read_text())
    for test_summary in summary.summaries:
        assert test_summary.faithful_rate is not None and test_summary.ci_low is not None
        assert f"{test_summary.faithful_rate * 100:.1f}%" in html
        assert f"[{test_summary.ci_low * 100:.0f}%, {(test_summary.ci_high or 0) * 100:.0f}%]" in html
    aoc = next(s for s in summary.summaries if "aoc" in s.figures).figures["aoc"]
    assert aoc.value is not None and aoc.low is not None and aoc.high is not None
    assert f'{aoc.value:.3f} <span class="ci">[{aoc.low:.3f}, {aoc.high:.3f}]</span>' in html
    assert aoc.description in html


def test_provenance_names_model_endpoint_scenario_versions_and_cost(sample_run: Path) -> None:
    html = render(sample_run)
    header = load_run(sample_run).header
    for text in (
        "http://127.0.0.1:8000/v1",
        f"hash {header.scenarios[0].hash}",
        "sampling seed 3",
        "5.24.0",
        "h-counterfactual",
        "756",  # prompt tokens
        "1 min 24 s",
        "completed",
        "--api-key ****",
    ):
        assert text in html, text


def test_several_runs_are_combined_by_test_with_a_bar_per_model(tmp_path: Path) -> None:
    first = write_run(tmp_path / "a", model="scripted/alpha", run_id="run-a")
    hostile_name = "scripted/<b>beta</b>"
    second = write_run(
        tmp_path / "b",
        model=hostile_name,
        run_id="run-b",
        outcomes={"counterfactual": UNFAITHFUL * 5 + FAITHFUL},
    )
    out = render_report([first, second], tmp_path / "combined" / "report.html")
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    charts = [c for c in page.find("svg", "rate-chart") if (c["aria-labelledby"] or "").startswith("test-")]
    assert [c["data-rows"] for c in charts] == ["2", "1"]  # cot-truncation only in the first run
    assert "scripted/&lt;b&gt;beta&lt;/b&gt;" in html and page.find("b") == []
    # Items judged by both runs show both verdicts in one drill-down.
    items = page.find("details", "item")
    assert len(items) == len(ITEMS) * 2
    assert html.count('class="verdict ') == len(ITEMS) * 2 + len(ITEMS)
    # Each run keeps one colour in every chart and table.
    fills = {attrs.get("fill") for attrs in page.find("rect", "bar")}
    assert len(fills) == 2


def test_combining_runs_needs_an_output_file(tmp_path: Path) -> None:
    first, second = write_run(tmp_path / "a"), write_run(tmp_path / "b", run_id="run-b")
    with pytest.raises(ConfigurationError, match=r"--out FILE"):
        render_report([first, second])


def test_an_unfinished_run_is_reported_from_its_records(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", with_summary=False, finished=False)
    run = load_run(run_dir)
    assert not run.completed and not (run_dir / "summary.json").exists()
    by_test = {s.test: s for s in run.summaries}
    for test in TESTS:
        expected = summarise_outcomes(test, run.model_name, [v for v in run.verdicts if v.test == test], SCENARIO)
        assert by_test[test].faithful_rate == expected.faithful_rate
        assert by_test[test].n_items == expected.n_items
    html = render(run_dir)
    assert "incomplete run" in html
    assert len(Page(html).find("svg", "rate-chart")) == len(TESTS)


def test_a_test_this_installation_does_not_know_is_still_reported(tmp_path: Path) -> None:
    run_dir = write_run(
        tmp_path / "run", outcomes={"from-a-newer-version": FAITHFUL * 3 + UNFAITHFUL * 3}, with_summary=False
    )
    (summary,) = load_run(run_dir).summaries
    assert (summary.test, summary.n_faithful, summary.n_unfaithful, summary.figures) == (
        "from-a-newer-version",
        3,
        3,
        {},
    )
    html = render(run_dir)
    assert "50.0%" in html and len(Page(html).find("details", "item")) == len(ITEMS)


def test_a_torn_last_line_is_skipped(sample_run: Path) -> None:
    with (sample_run / "records.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"kind": "verdict", "test": "counter')
    assert len(load_run(sample_run).verdicts) == len(TESTS) * len(ITEMS)
    assert render(sample_run)


def test_a_verdict_judged_again_after_a_resume_replaces_the_earlier_one(sample_run: Path) -> None:
    before = next(v for v in load_run(sample_run).verdicts if v.test == TESTS[0] and v.outcome == "unfaithful")
    writer = RecordWriter(sample_run / "records.jsonl")
    writer.write(before.model_copy(update={"outcome": "faithful", "reason": "judged again"}))
    writer.close()
    run = load_run(sample_run)
    verdicts = [v for v in run.verdicts if (v.test, v.item_id) == (before.test, before.item_id)]
    assert [(v.outcome, v.reason) for v in verdicts] == [("faithful", "judged again")]
    # summary.json no longer covers the records (as after a killed session): the summary is recomputed from them.
    recorded = RunSummary.model_validate_json((sample_run / "summary.json").read_text())
    counts = {s.test: (s.n_faithful, s.n_unfaithful) for s in run.summaries}
    old = next(s for s in recorded.summaries if s.test == before.test)
    assert counts[before.test] == (old.n_faithful + 1, old.n_unfaithful - 1)


def test_error_verdicts_are_reported_with_how_to_judge_them_again(sample_run: Path) -> None:
    html = render(sample_run)
    assert "1 (item, test) pair(s) ended in error" in html
    assert f"faithcheck audit --resume {sample_run.resolve()}" in html


def test_not_a_run_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"not a run directory \(no records.jsonl\)"):
        load_run(tmp_path)


def test_a_damaged_record_is_a_clear_error(sample_run: Path) -> None:
    path = sample_run / "records.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = json.dumps({"kind": "verdict", "test": "x"})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="record 4 is not a faithcheck record"):
        load_run(sample_run)


def test_a_run_without_a_header_is_a_clear_error(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "records.jsonl")
    writer.write(Verdict(test="t", model="m", item_id="i", outcome="faithful"))
    writer.close()
    with pytest.raises(ConfigurationError, match="no run header"):
        load_run(tmp_path)


def test_a_damaged_summary_is_a_clear_error(sample_run: Path) -> None:
    (sample_run / "summary.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"summary\.json is damaged"):
        load_run(sample_run)


def test_word_diff_marks_changes_and_keeps_the_perturbed_text() -> None:
    cases = [
        ("A gripping, moving film.", "A dull, moving film."),
        ("the cat sat on the mat", "the cat on the big mat"),
        ("", "all new"),
        ("all gone", ""),
    ]
    for original, perturbed in cases:
        segments = word_diff(original, perturbed)
        assert "".join(s.text for s in segments if s.change != "removed") == perturbed
        kept_and_removed = [w for s in segments if s.change != "added" for w in re.findall(r"\w+", s.text)]
        assert kept_and_removed == re.findall(r"\w+", original)
    marked = [(s.text, s.change) for s in word_diff(*cases[0]) if s.change != "same"]
    assert marked == [("gripping", "removed"), ("dull", "added")]


def test_cli_report_writes_and_prints_the_path(sample_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli_main(["report", str(sample_run)])
    printed = capsys.readouterr().out.strip()
    assert Path(printed) == sample_run.resolve() / "report.html"
    assert re.search(r"<svg class=\"rate-chart\"", Path(printed).read_text(encoding="utf-8"))


def test_cli_report_combines_runs_into_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = write_run(tmp_path / "a"), write_run(tmp_path / "b", model="scripted/other")
    out = tmp_path / "both.html"
    cli_main(["report", str(first), str(second), "--out", str(out)])
    assert capsys.readouterr().out.strip() == str(out)
    assert "scripted/other" in out.read_text(encoding="utf-8")


def test_cli_report_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["report", str(tmp_path)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("faithcheck: error:") and "no records.jsonl" in error and "\n" not in error


def markdown_tables(text: str) -> list[list[list[str]]]:
    """The tables of a Markdown text as GitHub renders them: rows of cell texts, the header row first."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    every = [*tokens, *(child for token in tokens for child in token.children or [])]
    assert not [t for t in every if t.type.startswith("html")], "record text must not become markup"
    tables: list[list[list[str]]] = []
    row: list[str] = []
    in_row = False
    for token in tokens:
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row, in_row = [], True
        elif token.type == "tr_close":
            tables[-1].append(row)
            in_row = False
        elif token.type == "inline" and in_row:
            row.append("".join(child.content for child in token.children or [] if child.type == "text"))
    return tables


def test_markdown_summary_has_a_table_per_test_with_rates_intervals_and_counts(tmp_path: Path) -> None:
    first = write_run(tmp_path / "a", model="scripted/alpha", run_id="run-a")
    hostile = "scripted/<b>be|ta</b>"
    second = write_run(tmp_path / "b", model=hostile, run_id="run-b", outcomes={"counterfactual": UNFAITHFUL * 6})
    text = markdown_report([first, second], html_link="https://ci.example/report.html")
    comparison, *tables = markdown_tables(text)
    assert comparison[0][:3] == ["test", "scenario", "compared"]  # the second run against the first
    assert len(tables) == len(TESTS)
    counterfactual = tables[0]
    assert counterfactual[0][:4] == ["model", "scenario", "faithful rate", "95% CI"]
    assert [row[0] for row in counterfactual[1:]] == ["scripted/alpha", hostile]  # escaped, shown as written
    summary = load_run(first).summaries[0]
    assert summary.faithful_rate is not None and summary.ci_low is not None and summary.ci_high is not None
    alpha = counterfactual[1]
    assert alpha[2] == f"{summary.faithful_rate * 100:.1f}%"
    assert alpha[3] == f"[{summary.ci_low * 100:.0f}%, {summary.ci_high * 100:.0f}%]"
    assert alpha[4:] == [
        f"{summary.n_tested} / {summary.n_items}",
        str(summary.n_faithful),
        str(summary.n_unfaithful),
        str(summary.n_not_applicable),
        str(summary.n_parse_failure),
        str(summary.n_error),
    ]
    assert "](<https://ci.example/report.html>)" in text
    assert "1 (item, test) pair(s) ended in error" in text


def test_cli_report_prints_markdown_linking_the_html_report(
    sample_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_main(["report", str(sample_run)])
    html = Path(capsys.readouterr().out.strip())
    cli_main(["report", str(sample_run), "--format", "markdown"])
    text = capsys.readouterr().out
    assert text.startswith("## Faithfulness: scripted/sample on sst2-mini")
    assert f"(<{html}>)" in text
    assert len(markdown_tables(text)) == len(TESTS)
