"""`faithcheck models` and `faithcheck generate`: see the model interface work."""

from __future__ import annotations

import json
from typing import Any

import click

from agent.cli._app import ModelFlags, main, model_options, run_and_close


@main.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_command(as_json: bool) -> None:
    """List model providers, whether they are usable here, and the scripted models (organisms)."""
    from rich.table import Table

    from agent.models import providers
    from agent.models._registry import extra_providing
    from agent.models.scripted import scripted_names
    from agent.visible_text import SafeConsole

    rows: list[dict[str, Any]] = [
        {
            "provider": entry.name,
            "example": entry.example,
            "summary": entry.summary,
            "missing": entry.missing(),
        }
        for entry in providers()
    ]
    scripted = scripted_names()
    if as_json:
        click.echo(json.dumps({"providers": rows, "scripted": scripted}, indent=2))
        return
    console = SafeConsole()
    table = Table(title="Model providers", show_lines=False)
    for column in ("provider", "example", "what", "status"):
        table.add_column(column)
    for row in rows:
        status = "ready"
        if row["missing"]:
            extra = extra_providing(row["missing"][0])  # a missing extra is named, as get_model's error does
            status = f"pip install 'faithcheck[{extra}]'" if extra else "install " + ", ".join(row["missing"])
        table.add_row(row["provider"], row["example"], row["summary"], status)
    console.print(table)
    organisms = Table(title="Scripted models (scripted/<name>)")
    organisms.add_column("name")
    organisms.add_column("behaviour")
    for name, description in scripted.items():
        organisms.add_row(name, description)
    console.print(organisms)


@main.command("generate")
@click.option("-m", "--model", "model_name", required=True, envvar="FAITHCHECK_MODEL", help="provider/model.")
@click.argument("prompt")
@click.option("--system", default=None, help="A system message to send first.")
@click.option("--max-tokens", default=256, show_default=True, type=int)
@click.option("--temperature", default=0.0, show_default=True, type=float)
@click.option("--seed", default=None, type=int)
@click.option("-n", "n", default=1, show_default=True, type=int, help="Number of samples.")
@click.option("--logprobs", is_flag=True, help="Ask for token log-probabilities (where the backend has them).")
@click.option("--json", "as_json", is_flag=True, help="Print the typed completion as JSON.")
@model_options
def generate_command(
    model_name: str,
    prompt: str,
    system: str | None,
    max_tokens: int,
    temperature: float,
    seed: int | None,
    n: int,
    logprobs: bool,
    as_json: bool,
    model_flags: ModelFlags,
) -> None:
    """Print a completion of PROMPT."""
    from agent.models import ChatMessage, GenerateConfig
    from agent.visible_text import visible

    model = model_flags.build(model_name)
    messages = [ChatMessage(role="system", content=system)] if system else []
    messages.append(ChatMessage(role="user", content=prompt))
    config = GenerateConfig(
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        n=n,
        logprobs=logprobs,
        top_logprobs=5 if logprobs else None,
    )
    completion = run_and_close(model.generate(messages, config), model)
    if as_json:
        click.echo(completion.model_dump_json(indent=2))
        return
    for index, choice in enumerate(completion.choices):
        if len(completion.choices) > 1:
            click.echo(f"--- sample {index + 1}")
        if choice.reasoning:
            click.echo(f"[reasoning] {visible(choice.reasoning)}")
        click.echo(visible(choice.text))
    source = "cache" if completion.cached else f"{completion.latency_s:.2f}s"
    click.echo(
        f"[{model.name} · {completion.usage.prompt_tokens}+{completion.usage.completion_tokens} tokens · "
        f"{source} · finish={completion.choices[0].finish_reason if completion.choices else None}]",
        err=True,
    )
