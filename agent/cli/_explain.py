"""`faithcheck explain`: one item's answer and explanations, printed readably or as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent.cli._app import ModelFlags, main, model_options, prompts_dir_option, run_and_close
from agent.errors import ConfigurationError

if TYPE_CHECKING:
    from rich.console import Console

    from agent.explainer import Explanation
    from agent.paradigms import ParadigmResult


class ParadigmChoice(click.Choice):
    """The registered paradigms, looked up when the flag is used or shown: the paradigms take a while to import
    and `faithcheck --help` should not wait for them."""

    def __init__(self) -> None:
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        from agent.paradigms import paradigm_names

        return tuple(paradigm_names())

    @choices.setter
    def choices(self, _: Sequence[str]) -> None:
        pass


@main.command("explain")
@click.option("-m", "--model", "model_name", required=True, envvar="FAITHCHECK_MODEL", help="provider/model.")
@click.option(
    "--task",
    "task_name",
    default="sentiment",
    show_default=True,
    type=click.Choice(["sentiment", "nli", "mc", "math"]),
    help="Task framing.",
)
@click.argument("text")
@click.option("--premise", default=None, help="The premise, for --task nli (TEXT is the hypothesis).")
@click.option("--options", "options", multiple=True, help="A multiple-choice option (repeat, in order A, B, ...).")
@click.option("--labels", default=None, help="Comma-separated label set replacing the preset's (classification).")
@click.option(
    "-p",
    "--paradigm",
    "paradigms",
    multiple=True,
    type=ParadigmChoice(),
    help="Paradigm to run (repeat); default: post-hoc, explain-then-predict, importance, counterfactual, "
    "redaction, cot.",
)
@click.option("-k", "k", default=3, show_default=True, help="How many important words to ask for.")
@click.option("--target", default=None, help="The answer a counterfactual should aim for (default: another one).")
@click.option(
    "--scores/--no-scores",
    "use_scores",
    default=None,
    help="Read answers by scoring every option (default: when the backend can).",
)
@prompts_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the typed result as JSON.")
@model_options
def explain_command(
    model_name: str,
    task_name: str,
    text: str,
    premise: str | None,
    options: tuple[str, ...],
    labels: str | None,
    paradigms: tuple[str, ...],
    k: int,
    target: str | None,
    use_scores: bool | None,
    prompts_dir: Path | None,
    as_json: bool,
    model_flags: ModelFlags,
) -> None:
    """Ask a model for its answer to TEXT and its explanations of it."""
    from agent.explainer import Explainer, explain
    from agent.paradigms import EXPLANATION_PARADIGMS
    from agent.presets import preset_item, task_preset
    from agent.prompts import PromptLibrary
    from agent.visible_text import SafeConsole

    if not text.strip():
        raise ConfigurationError("TEXT is empty: give the text to explain, e.g. faithcheck explain -m smollm2 'A joy.'")
    task = task_preset(task_name, tuple(x.strip() for x in labels.split(",")) if labels else ())
    item = preset_item(task_name, text, premise=premise, options=options)
    model = model_flags.build(model_name)
    explainer = Explainer(model, prompts=PromptLibrary([prompts_dir] if prompts_dir else []), use_scores=use_scores)
    params: dict[str, Any] = {"importance": {"k": k}, "counterfactual": {"target": target} if target else {}}
    work = explain(model, item, task, paradigms or EXPLANATION_PARADIGMS, explainer=explainer, **params)
    result = run_and_close(work, model)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    print_explanation(result, SafeConsole())
    usage = model.usage
    click.echo(
        f"[{model.name} · {usage.calls_sent} calls sent · {usage.cache_hits} cache hits · "
        f"{usage.prompt_tokens}+{usage.completion_tokens} tokens]",
        err=True,
    )


def _describe(result: ParadigmResult) -> str:
    from rich.markup import escape

    """One paradigm's output in a few readable lines."""
    output = result.output
    if output is None:
        failure = result.failure
        return f"[red]could not read the reply[/red]: {escape(failure.error if failure else '?')}\n" + (
            f"[dim]raw: {escape(failure.raw[:300])}[/dim]" if failure and failure.raw else ""
        )
    if output.kind == "prediction":
        line = f"[bold]{escape(output.answer)}[/bold]  [dim](read by {output.method})[/dim]"
        if output.distribution:
            line += "\n" + ", ".join(f"{escape(a)}: {p:.2f}" for a, p in output.distribution.items())
        return line
    if output.kind == "post-hoc":
        return f"answer [bold]{escape(output.prediction.answer)}[/bold], because: {escape(output.explanation)}"
    if output.kind == "explain-then-predict":
        return f"{escape(output.explanation)}\n→ answer [bold]{escape(output.prediction.answer)}[/bold]"
    if output.kind == "importance":
        return ", ".join(
            escape(w.text)
            + (f" ({w.score:g})" if w.score is not None else "")
            + ("" if w.in_input else " [dim]*[/dim]")
            for w in output.words
        ) + ("\n[dim]* not found in the input[/dim]" if any(not w.in_input for w in output.words) else "")
    if output.kind == "counterfactual":
        edited = output.edited_prediction.answer if output.edited_prediction else "unreadable"
        flipped = "reaches" if edited == output.target else "does not reach"
        return (
            f"edit toward [bold]{escape(output.target)}[/bold]: {escape(output.edited_text)}\n"
            f"answer on the edit: [bold]{escape(edited)}[/bold] ({flipped} the target)"
        )
    if output.kind == "redaction":
        return f"{escape(output.redacted_text)}  [dim]({output.redacted_count} redacted)[/dim]"
    if output.kind == "cot":
        steps = "\n".join(f"{i}. {escape(s)}" for i, s in enumerate(output.steps, 1))
        trace = (
            f"\n[dim]reasoning trace: {escape(output.reasoning_trace[:300])}[/dim]" if output.reasoning_trace else ""
        )
        forced = " [dim](asked after the reasoning, which gave none)[/dim]" if output.answer_forced else ""
        return f"{steps}\n→ answer [bold]{escape(output.prediction.answer)}[/bold]{forced}{trace}"
    return escape(str(output))


def print_explanation(explanation: Explanation, console: Console) -> None:
    """Print an Explanation as one panel per paradigm."""
    from rich.markup import escape
    from rich.panel import Panel

    fields = "\n".join(f"{name}: {escape(text)}" for name, text in explanation.item.fields.items())
    options = "\n".join(f"({chr(65 + i)}) {escape(o)}" for i, o in enumerate(explanation.item.options))
    console.print(
        Panel(fields + ("\n" + options if options else ""), title=f"{explanation.model} · {explanation.task.name}")
    )
    titles = {
        "predict": "answer",
        "post-hoc": "post-hoc explanation",
        "explain-then-predict": "explain, then predict",
        "importance": "important words",
        "counterfactual": "counterfactual",
        "redaction": "redaction",
        "cot": "chain of thought",
    }
    for name, result in explanation.results.items():
        console.print(Panel(_describe(result), title=titles.get(name, name), title_align="left"))
