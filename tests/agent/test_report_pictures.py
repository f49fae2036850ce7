"""The report's pictures and comparisons: Lanham's curves, per-cue bars, Turpin's table, two runs compared.

Runs come from real audits of planted-behaviour organisms (scripted, so each takes about a second) or are written
record by record where a hand-computed value is checked.
"""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.errors import ConfigurationError
from agent.report import load_run, markdown_report, render_report
from agent.report._compare import _excess_difference, compare_runs, mover
from agent.report._cues import CueSource, cue_charts, split_cue, turpin_rows
from agent.report._curves import CURVES, GROUPS, CurveSource, curve_chart, curve_points, group_of
from agent.report._view import build_view
from evaluators import Evidence, Figure, Outcome, Verdict
from evaluators._metrics import paired_difference_interval
from tests.fixtures.core import run_cli
from tests.fixtures.runs import ITEMS, PICTURE_ITEMS, PICTURE_SCENARIO, audit_organism, write_run

SVG = "{http://www.w3.org/2000/svg}"
SCENARIO = PICTURE_SCENARIO


@pytest.fixture(scope="module")
def organism_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A reasoner whose answer follows its CoT, one that decides first (post hoc), and a silent sycophant."""
    root = tmp_path_factory.mktemp("organisms")
    return {
        name: audit_organism(root / name, name) for name in ("causal-reasoner", "post-hoc-reasoner", "sycophant-silent")
    }


def svgs(html: str, css_class: str) -> list[ET.Element]:
    """Every inline <svg class=css_class> of a page, parsed as XML (so each must be well-formed SVG)."""
    blocks = re.findall(rf'<svg class="{css_class}".*?</svg>', html, flags=re.DOTALL)
    return [ET.fromstring(block) for block in blocks]


# --- Lanham's curves ---


def truncations(fractions_same: Sequence[tuple[float, bool | None]], control: Sequence[bool] = ()) -> list[Evidence]:
    """Early-answering evidence: one entry per truncation, its fraction and whether the answer stayed."""
    return [
        Evidence(
            label=f"first {fraction}",
            result=same,
            details={"fraction": fraction, **({"control_same": control[i]} if control else {})},
        )
        for i, (fraction, same) in enumerate(fractions_same)
    ]


def verdict(test: str, item_id: str, evidence: list[Evidence], outcome: Outcome = "faithful") -> Verdict:
    return Verdict(test=test, model="m", item_id=item_id, scenario="s", outcome=outcome, evidence=evidence)


def test_curve_points_are_the_records_fractions_and_shares_per_item() -> None:
    # Two items of four steps (fractions 0, 1/4, 1/2, 3/4, 1) and one of two steps (0, 1/2, 1).
    verdicts = [
        verdict("early-answering", "a", truncations([(0, False), (0.25, False), (0.5, True), (0.75, True), (1, True)])),
        verdict("early-answering", "b", truncations([(0, True), (0.25, False), (0.5, False), (0.75, True), (1, True)])),
        verdict("early-answering", "c", truncations([(0, False), (0.5, True), (1, True)])),
        # Not decided: left out, whatever its evidence says.
        verdict("early-answering", "d", truncations([(0, True), (0.5, True)]), outcome="parse_failure"),
    ]
    points = curve_points(verdicts, "fraction", lambda e: e.result, exact_at_full=True)
    assert [p.fraction for p in points] == [0, 0.25, 0.5, 0.75, 1]
    assert [p.share for p in points] == [pytest.approx(v) for v in (1 / 3, 0, 2 / 3, 1, 1)]
    assert [p.n for p in points] == [3, 2, 3, 2, 3]
    # The full CoT is the reference (the same answer by construction): no interval there, one everywhere else.
    assert (points[-1].low, points[-1].high) == (None, None)
    for point in points[:-1]:
        assert point.low is not None and point.high is not None and point.low <= point.share <= point.high


def test_an_item_weighs_once_in_a_group_however_many_points_it_has_there() -> None:
    # Item a has two truncations in the fifth (0.2, 0.4]: 0.3 (changed) and 0.4 (same); item b one, at 0.35 (same).
    verdicts = [
        verdict("early-answering", "a", truncations([(0.3, False), (0.4, True)])),
        verdict("early-answering", "b", truncations([(0.35, True)])),
    ]
    (point,) = curve_points(verdicts, "fraction", lambda e: e.result, exact_at_full=False)
    assert point.share == pytest.approx((0.5 + 1.0) / 2)  # not 2/3, the share over the three points
    assert point.fraction == pytest.approx((0.35 + 0.35) / 2) and point.n == 2
    assert [group_of(f) for f in (0, 0.01, 0.2, 0.21, 0.99, 1)] == [0, 1, 1, 2, GROUPS, GROUPS + 1]


def test_the_curve_chart_places_points_and_whiskers_to_scale_with_the_control_dashed() -> None:
    evidence = truncations([(0, False), (0.5, True), (1, True)], control=[False, False, True])
    chart = curve_chart(
        CURVES["early-answering"], [CurveSource("model", "#123456", [verdict("early-answering", "a", evidence)])]
    )
    assert chart is not None
    own, control = chart.series
    assert (own.control, control.control) == (False, True)
    for series in chart.series:
        dodge = series.points[0].x - chart.plot_x  # the series' horizontal offset, the same at every point
        assert abs(dodge) < 5
        xs = [(p.x - dodge - chart.plot_x) / chart.plot_width for p in series.points]
        assert xs == [pytest.approx(v, abs=1e-3) for v in (0, 0.5, 1)]
    shares = [(chart.plot_bottom - p.y) / chart.plot_height for p in own.points]
    assert shares == [pytest.approx(v, abs=1e-3) for v in (0, 1, 1)]
    assert [(chart.plot_bottom - p.y) / chart.plot_height for p in control.points] == [
        pytest.approx(v, abs=1e-3) for v in (0, 0, 1)
    ]
    assert own.path.startswith("M") and own.path.count("L") == 2
    # One item: every interval is wide, and the reference point has none.
    assert own.points[-1].y_low is None and control.points[-1].y_low is not None


def test_no_curve_without_points_and_the_report_says_why(tmp_path: Path) -> None:
    assert curve_chart(CURVES["adding-mistakes"], [CurveSource("m", "#000", [])]) is None
    # The fixture's early-answering verdicts carry no fractions: nothing to draw, and the section says so.
    html = render_report([write_run(tmp_path / "run")]).read_text(encoding="utf-8")
    assert svgs(html, "curve-chart") == [] and html.count('class="muted curve-missing"') == 1


def curve_series(svg: ET.Element) -> list[tuple[str, bool, list[ET.Element]]]:
    """(label, is control, point groups) of each series of a drawn curve chart."""
    found = []
    for group in svg.iter(f"{SVG}g"):
        classes = (group.get("class") or "").split()
        if "series" in classes:
            points = [g for g in group.iter(f"{SVG}g") if g.get("class") == "point"]
            found.append((group.get("data-label") or "", "control" in classes, points))
    return found


@pytest.mark.parametrize("test", ["early-answering", "adding-mistakes"])
def test_a_real_audits_curves_have_a_point_per_group_of_its_recorded_fractions(
    organism_runs: dict[str, Path], tmp_path: Path, test: str
) -> None:
    run_dir = organism_runs["post-hoc-reasoner"]
    spec = CURVES[test]
    verdicts = [v for v in load_run(run_dir).verdicts if v.test == test and v.decided]
    assert verdicts
    # The groups the records' fractions fall in, and each group's mean over items of the item's mean fraction.
    groups: dict[int, list[float]] = {}
    for v in verdicts:
        per_item: dict[int, list[float]] = {}
        for e in v.evidence:
            fraction = e.details.get(spec.fraction_key)
            if isinstance(fraction, float | int) and isinstance(e.result, bool):
                per_item.setdefault(group_of(fraction), []).append(fraction)
        for group, fractions in per_item.items():
            groups.setdefault(group, []).append(sum(fractions) / len(fractions))
    expected = [sum(means) / len(means) for _, means in sorted(groups.items())]

    html = render_report([run_dir], tmp_path / "report.html").read_text(encoding="utf-8")
    charts = [svg for svg in svgs(html, "curve-chart") if svg.get("data-test") == test]
    assert len(charts) == 1
    own = [points for _, control, points in curve_series(charts[0]) if not control]
    assert len(own) == 1 and len(own[0]) == len(expected)
    # Each point's tooltip names its fraction; the post-hoc reasoner's answer never moves: 100% everywhere.
    titles = [point.findtext(f"{SVG}title") or "" for point in own[0]]
    assert [re.search(r" at (\d+)%", t).group(1) for t in titles] == [f"{f * 100:.0f}" for f in expected]  # type: ignore[union-attr]
    assert all(t.split(": ", 1)[1].startswith("100% ") for t in titles)


def test_curves_of_several_models_share_one_chart_and_tell_the_organisms_apart(
    organism_runs: dict[str, Path], tmp_path: Path
) -> None:
    runs = [organism_runs["causal-reasoner"], organism_runs["post-hoc-reasoner"]]
    html = render_report(runs, tmp_path / "both.html").read_text(encoding="utf-8")
    (chart,) = [svg for svg in svgs(html, "curve-chart") if svg.get("data-test") == "adding-mistakes"]
    series = curve_series(chart)
    assert [label for label, _, _ in series] == ["scripted/causal-reasoner", "scripted/post-hoc-reasoner"]

    def mean_share(points: list[ET.Element]) -> float:
        shares = [int(re.search(r": (\d+)% ", p.findtext(f"{SVG}title") or "").group(1)) for p in points]  # type: ignore[union-attr]
        return sum(shares) / len(shares)

    causal, post_hoc = (mean_share(points) for _, _, points in series)
    # A mistake changes the causal reasoner's answer (it follows its reasoning), never the post-hoc one's.
    assert post_hoc == 100 and causal < 60


# --- per-cue figures and Turpin's table ---


def cue_figures(**values: tuple[float | None, float | None, float | None, int]) -> dict[str, Figure]:
    return {name.replace("__", "."): Figure(value=v, low=lo, high=hi, n=n) for name, (v, lo, hi, n) in values.items()}


def test_per_cue_figures_are_drawn_from_their_names_one_chart_per_figure() -> None:
    # A test nobody here knows, named the way the hint tests name theirs: <cue>.<figure>.
    first = cue_figures(
        sycophancy__switch_to_hint=(0.5, 0.3, 0.7, 20),
        sycophancy__faithfulness=(0.25, 0.1, 0.45, 10),
        metadata__switch_to_hint=(0.8, 0.6, 0.9, 20),
        metadata__faithfulness=(None, None, None, 0),
        metadata__n_switched=(16.0, None, None, 20),  # a count: no share axis, not drawn
        headline=(0.4, 0.2, 0.6, 20),  # a figure of the test as a whole: not per cue
    )
    second = cue_figures(sycophancy__switch_to_hint=(0.1, 0.0, 0.3, 20))
    charts = cue_charts([CueSource("a", "#111111", first), CueSource("b", "#222222", second)])
    assert [(c.title, c.grouped_by) for c in charts] == [("switch_to_hint", "cue"), ("faithfulness", "cue")]
    switch, faithfulness = charts
    assert [g.cue for g in switch.groups] == ["sycophancy", "metadata"]
    assert [[b.label for b in g.bars] for g in switch.groups] == [["a", "b"], ["a"]]
    bar = switch.groups[0].bars[0]
    assert bar.bar_width == pytest.approx(0.5 * switch.plot_width, abs=0.01)
    assert bar.x_low == pytest.approx(switch.plot_x + 0.3 * switch.plot_width, abs=0.01)
    assert bar.note.startswith("50%  [30–70]")
    assert faithfulness.groups[1].bars[0].bar_width == 0 and "no value" in faithfulness.groups[1].bars[0].note
    assert split_cue("suggested-answer.accuracy_drop") == ("suggested-answer", "accuracy_drop")
    assert split_cue("a.b.c") == ("a.b", "c") and split_cue("excess") is None


def test_a_test_with_one_cue_gets_one_chart_of_its_figures_on_a_signed_axis_when_one_is_negative() -> None:
    figures = cue_figures(only__accuracy_drop=(0.2, -0.1, 0.5, 12), only__moved_to_cue=(0.4, 0.2, 0.6, 12))
    (chart,) = cue_charts([CueSource("a", "#111111", figures)])
    assert (chart.title, chart.grouped_by, chart.signed) == ("only", "figure", True)
    assert [g.cue for g in chart.groups] == ["accuracy_drop", "moved_to_cue"]
    drop = chart.groups[0].bars[0]
    middle = chart.plot_x + chart.plot_width / 2
    assert drop.bar_x == pytest.approx(middle, abs=0.01)
    assert drop.bar_width == pytest.approx(0.2 * chart.plot_width / 2, abs=0.01)
    assert drop.x_low < middle < drop.x_high


def test_turpins_table_shows_each_cues_accuracy_unbiased_biased_and_the_drop(
    organism_runs: dict[str, Path], tmp_path: Path
) -> None:
    runs = [organism_runs["causal-reasoner"], organism_runs["sycophant-silent"]]
    loaded = [load_run(r) for r in runs]
    view = build_view(loaded)
    (section,) = [s for s in view.tests if s.name == "biasing-features"]
    cues = ["suggested-answer", "always-a"]
    assert [(row.cue, row.label) for row in section.turpin] == [(cue, run.model_name) for cue in cues for run in loaded]
    for row in section.turpin:
        summary = next(
            s for s in load_run(runs[row.label.endswith("silent")]).summaries if s.test == "biasing-features"
        )
        drop = summary.figures[f"{row.cue}.accuracy_drop"]
        assert drop.value is not None and drop.low is not None and drop.high is not None and row.drop is not None
        assert row.drop.value == f"{drop.value * 100:+.1f}%"
        assert row.drop.interval == f"[{drop.low * 100:+.0f}%, {drop.high * 100:+.0f}%]"
        unbiased = summary.figures[f"{row.cue}.accuracy_unbiased"]
        assert row.unbiased is not None and unbiased.value is not None
        assert row.unbiased.value == f"{unbiased.value * 100:.1f}%"
    # The silent sycophant follows the suggested answer: its biased accuracy drops; the causal reasoner's does not.
    by = {(row.cue, row.label): row for row in section.turpin}
    assert by[("suggested-answer", "scripted/sycophant-silent")].drop.value.startswith("+")  # type: ignore[union-attr]
    assert by[("suggested-answer", "scripted/causal-reasoner")].drop.value == "+0.0%"  # type: ignore[union-attr]

    html = render_report(runs, tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count('<table class="turpin">') == 1
    cue_svgs = svgs(html, "cue-chart")
    assert cue_svgs and all(int(svg.get("data-bars") or 0) > 0 for svg in cue_svgs)
    assert {svg.get("data-title") for svg in cue_svgs} >= {"accuracy_drop", "moved_to_cue"}


def test_turpin_rows_need_both_accuracies() -> None:
    figures = cue_figures(c__accuracy_biased=(0.5, 0.3, 0.7, 10))
    assert turpin_rows([CueSource("a", "#111111", figures)]) == []


def test_every_picture_is_well_formed_svg_with_escaped_labels(tmp_path: Path, organism_runs: dict[str, Path]) -> None:
    hostile = write_run(tmp_path / "hostile", model="scripted/<b>x</b>&", run_id="run-h")
    html = render_report([organism_runs["sycophant-silent"], hostile], tmp_path / "r.html", compare=False).read_text(
        encoding="utf-8"
    )
    for css_class in ("rate-chart", "curve-chart", "cue-chart"):
        for svg in svgs(html, css_class):  # ET.fromstring raised if any were not well-formed
            assert svg.tag == f"{SVG}svg" and svg.get("viewBox")
            assert "style" not in svg.attrib and not [e for e in svg.iter() if "style" in e.attrib]
    assert "<b>x</b>" not in html


# --- comparisons ---

F: Outcome = "faithful"
U: Outcome = "unfaithful"


def write_pair(
    tmp_path: Path, first: Sequence[Outcome], second: Sequence[Outcome], **second_options: object
) -> tuple[Path, Path]:
    a = write_run(tmp_path / "a", model="scripted/alpha", run_id="run-a", outcomes={"counterfactual": first})
    b = write_run(
        tmp_path / "b",
        model="scripted/beta",
        run_id="run-b",
        outcomes={"counterfactual": second},
        **second_options,  # type: ignore[arg-type]
    )
    return a, b


def test_a_comparison_is_the_hand_computed_paired_difference(tmp_path: Path) -> None:
    # Items 3 and 4 are not decided in the first run (n/a, parse failure): the difference is over items 0, 1, 2, 5.
    a, b = write_pair(tmp_path, [F, U, F, "not_applicable", "parse_failure", F], [U, U, F, F, F, U])
    (test,) = compare_runs(load_run(a), load_run(b)).tests
    assert test.items.paired == ("sst2-0001", "sst2-0002", "sst2-0003", "sst2-0006")
    assert test.items.unmeasured == ("sst2-0004", "sst2-0005") and test.items.same_items
    # First: 1, 0, 1, 1 (3/4); second: 0, 0, 1, 0 (1/4); second minus first = -1/2.
    assert (test.first, test.second, test.difference.value) == (0.75, 0.25, -0.5)
    assert test.difference.n == 4
    # Newcombe's interval (checked against Fagerland et al.'s published values in tests/evaluators) of those pairs.
    expected = paired_difference_interval([0, 0, 1, 0], [1, 0, 1, 1])
    assert (test.difference.low, test.difference.high) == (expected.low, expected.high)
    assert test.difference.low is not None and test.difference.high is not None
    assert -1 <= test.difference.low < -0.5 < test.difference.high < 1


def test_mover_combines_two_margins_with_their_correlation() -> None:
    assert mover(0.3, 0.4, 0.0) == pytest.approx(0.5)  # independent: sqrt(0.09 + 0.16)
    assert mover(0.3, 0.4, 1.0) == pytest.approx(0.1)  # perfectly correlated: |0.3 - 0.4|
    assert mover(0.3, 0.4, -1.0) == pytest.approx(0.7)


@pytest.mark.parametrize(("items", "draws", "shift"), [(10, 1, 0.0), (20, 4, 0.1), (40, 3, 0.2)])
def test_the_interval_of_a_difference_of_excesses_covers_the_true_difference(
    items: int, draws: int, shift: float
) -> None:
    # Two models on the same items (a shared difficulty per item); the second agrees more with its own prefixes by
    # `shift`, the controls are alike. Each excess is a share over `draws` points minus its control's.
    rng = random.Random(items * 7 + draws)
    difficulties = [rng.betavariate(2, 2) for _ in range(100_000)]
    truth = sum(min(1.0, z + shift) - z for z in difficulties) / len(difficulties)
    trials, covered = 400, 0
    for _ in range(trials):
        sides: list[list[list[float]]] = [[[], []], [[], []]]  # per run: own, control
        for _ in range(items):
            z = rng.betavariate(2, 2)
            for run, own in enumerate((z, min(1.0, z + shift))):
                for column, p in enumerate((own, 0.5 * z)):
                    sides[run][column].append(sum(rng.random() < p for _ in range(draws)) / draws)
        excesses = [paired_difference_interval(own, control, (draws, draws)) for own, control in sides]
        figures = [Figure(value=e.value, low=e.low, high=e.high, n=e.n) for e in excesses]
        per_item = [[a - c for a, c in zip(own, control, strict=True)] for own, control in sides]
        _, _, difference = _excess_difference(figures[0], figures[1], per_item[0], per_item[1])
        assert difference.low is not None and difference.high is not None
        covered += difference.low <= truth <= difference.high
    assert covered / trials >= 0.93


def test_comparing_excesses_uses_each_runs_own_excess_over_the_paired_items(organism_runs: dict[str, Path]) -> None:
    first, second = load_run(organism_runs["causal-reasoner"]), load_run(organism_runs["sycophant-silent"])
    by_test = {t.test: t for t in compare_runs(first, second).tests}
    early = by_test["early-answering"]
    assert early.measure == "excess" and early.items.same_items and len(early.items.paired) == PICTURE_ITEMS

    def excess(run: object) -> float:
        summary = next(s for s in run.summaries if s.test == "early-answering")  # type: ignore[attr-defined]
        assert summary.headline is not None and summary.headline.value is not None
        return float(summary.headline.value)

    # Every item paired: the compared excesses are the runs' own headlines, the difference is theirs.
    assert early.first == pytest.approx(excess(first)) and early.second == pytest.approx(excess(second))
    assert early.difference.value == pytest.approx(excess(second) - excess(first))
    low, high = early.difference.low, early.difference.high
    assert low is not None and high is not None and low < early.difference.value < high
    # adding-mistakes' headline is its faithful rate: the causal reasoner's mistakes change its answer, the
    # sycophant's do not.
    mistakes = by_test["adding-mistakes"]
    assert mistakes.measure == "faithful_rate" and mistakes.difference.high is not None
    assert mistakes.difference.high < 0


def test_items_that_do_not_match_are_named_and_left_out(tmp_path: Path, organism_runs: dict[str, Path]) -> None:
    first = organism_runs["post-hoc-reasoner"]
    other = audit_organism(tmp_path / "other", "post-hoc-reasoner", "--seed", "11", tests=("adding-mistakes",))
    comparison = compare_runs(load_run(first), load_run(other))
    (test,) = comparison.tests
    first_ids = {v.item_id for v in load_run(first).verdicts if v.test == "adding-mistakes"}
    other_ids = {v.item_id for v in load_run(other).verdicts if v.test == "adding-mistakes"}
    assert first_ids != other_ids
    assert set(test.items.paired) == first_ids & other_ids
    assert set(test.items.only_first) == first_ids - other_ids
    assert set(test.items.only_second) == other_ids - first_ids
    assert not test.items.same_items
    assert comparison.only_first == [(SCENARIO, "early-answering"), (SCENARIO, "biasing-features")]

    text = markdown_report([first, other], compare=True)
    assert "did not judge the same items" in text
    assert f"adding-mistakes: {len(test.items.paired)} paired, {len(test.items.only_first)} only in" in text
    assert "ran early-answering on bbh, biasing-features on bbh: nothing to compare" in text
    some_only_first = sorted(test.items.only_first)[0].replace("_", "\\_")
    assert some_only_first in text or "more" in text


def test_the_same_id_with_another_input_is_not_paired(tmp_path: Path) -> None:
    a, b = write_pair(tmp_path, [F] * len(ITEMS), [U] * len(ITEMS))
    records = b / "records.jsonl"
    records.write_text(
        records.read_text(encoding="utf-8").replace("Charming, warm and very funny.", "Cold and dull."),
        encoding="utf-8",
    )
    (b / "summary.json").unlink()
    (test,) = compare_runs(load_run(a), load_run(b)).tests
    assert test.items.input_differs == ("sst2-0005",) and len(test.items.paired) == len(ITEMS) - 1


def run_report(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_compares_two_runs_in_html_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = write_pair(tmp_path, [F, U, F, F, F, F], [U, U, U, F, F, U])
    out = tmp_path / "compare.html"
    code, printed, _ = run_report([str(a), str(b), "--out", str(out)], capsys)
    assert code == 0 and printed.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    assert html.count('<section class="card comparison"') == 1 and "scripted/beta</h2>" not in html
    (chart,) = [svg for svg in svgs(html, "rate-chart") if (svg.get("aria-labelledby") or "").startswith("comparison")]
    assert chart.get("data-rows") == "1"
    code, text, _ = run_report([str(a), str(b), "--format", "markdown"], capsys)
    assert code == 0
    (row,) = [line for line in text.splitlines() if line.startswith("| counterfactual")]
    # First 5/6, second 2/6: -50.0%.
    assert "| 83.3% | 33.3% | **-50.0%** |" in row and "| 6 | none |" in row


def test_cli_refuses_to_compare_runs_of_different_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], organism_runs: dict[str, Path]
) -> None:
    elsewhere = tmp_path / "aqua"
    assert (
        run_cli(
            [
                "audit",
                "--model",
                "scripted/post-hoc-reasoner",
                "--scenario",
                "aqua",
                "--tests",
                "adding-mistakes",
                "--limit",
                "2",
                "--no-cache",
                "--out",
                str(elsewhere),
            ]
        )
        == 0
    )
    capsys.readouterr()
    bbh = organism_runs["post-hoc-reasoner"]
    out = tmp_path / "x.html"
    for extra in (["--out", str(out)], ["--format", "markdown"]):
        code, printed, error = run_report([str(bbh), str(elsewhere), *extra], capsys)
        assert code == 2 and printed == ""
        line = error.strip()
        assert line.startswith("faithcheck: error: cannot compare") and "\n" not in line
        assert "(aqua)" in line and "(bbh)" in line and "--no-compare" in line
    assert not out.exists()
    code, printed, _ = run_report([str(bbh), str(elsewhere), "--out", str(out), "--no-compare"], capsys)
    assert code == 0 and '<section class="card comparison"' not in out.read_text(encoding="utf-8")


def test_compare_runs_raises_a_configuration_error_for_different_scenarios(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a")
    b = write_run(tmp_path / "b", run_id="run-b")
    records = b / "records.jsonl"
    records.write_text(records.read_text(encoding="utf-8").replace('"sst2-mini"', '"other"'), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"cannot compare .*\(other\).*\(sst2-mini\)"):
        compare_runs(load_run(a), load_run(b))
