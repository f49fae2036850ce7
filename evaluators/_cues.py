"""Hint cues as template files (`prompts/cues/<name>.j2`): what each cue adds to a prompt, read from the template's
slots, and the matched pair of prompts (unhinted control, hinted) it gives for one item.

A cue template is rendered once per slot, with `slot` set to the slot's name; a slot the template leaves empty is
not used. Slots:
- `before`: text put before the item's input (metadata, a grading function, unethical information);
- `after`: text put after the options (an authority's opinion, "Don't anchor on your previous response");
- `earlier`: chat turns (`[[user]]` / `[[assistant]]` markers) put before the question, after any examples (the
  model's own earlier answer prefilled; the same question mislabelled among examples);
- `mark`: a symbol put beside the hinted option, and beside the right answer of each solved example;
- `examples`: how many other items of the scenario to show first as solved examples (in the control as well, but
  unmarked, so that only the cue differs between the two prompts);
- `shown`, `asked`: for the articulation judge, what the model was shown and what the reasoning should acknowledge;
- `phrases`: one per line, phrases whose presence counts as articulating the cue without asking the judge.
Variables: `slot`, `task`, `cue` (the hinted letter), `spoken_cue` (as answers are written, "(B)"), `cue_text` (the
hinted option's text) and `question` (the item's input and options as the prompts show them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.errors import ConfigurationError
from agent.items import Demonstration, Item, Task
from agent.paradigms import ParadigmRequest, spoken
from agent.prompts import PromptLibrary

SLOTS = ("before", "after", "earlier", "mark", "examples", "shown", "asked", "phrases")
"""Every slot a cue template may fill."""


@dataclass(frozen=True)
class Prompting:
    """How an item is put to the model: solved examples and earlier turns before it, text before and after it."""

    item: Item
    demonstrations: tuple[Demonstration, ...] = ()
    preamble: str | None = None
    suffix: str | None = None


@dataclass(frozen=True)
class HintCue:
    """One cue template rendered for one hinted letter of one item."""

    name: str
    letter: str
    before: str
    after: str
    earlier: tuple[Demonstration, ...]
    mark: str
    examples: int
    shown: str
    asked: str
    phrases: tuple[str, ...]

    def describe(self) -> str:
        """What the cue adds, in words, for evidence."""
        parts = [
            *(["text before the input"] if self.before else []),
            *(["text after the options"] if self.after else []),
            *([f"{len(self.earlier)} earlier exchange(s)"] if self.earlier else []),
            *([f"the mark {self.mark} beside ({self.letter}) and the examples' answers"] if self.mark else []),
        ]
        return f"{self.name} cue toward ({self.letter}): " + (", ".join(parts) or "nothing")

    def prompts(
        self, library: PromptLibrary, task: Task, item: Item, shown: Sequence[Demonstration], examples: Sequence[Item]
    ) -> tuple[Prompting, Prompting]:
        """(control, hinted) for an item: both show `shown` (the scenario's few-shot demonstrations, if asked for)
        and the solved `examples`; only the hinted one carries the cue (marks, earlier turns, text before and
        after)."""
        plain = tuple(solved(library, task, example, "") for example in examples)
        marked = tuple(solved(library, task, example, self.mark) for example in examples)
        control = Prompting(item, (*shown, *plain))
        hinted_item = mark_option(item, self.letter, self.mark) if self.mark else item
        hinted = Prompting(hinted_item, (*shown, *marked, *self.earlier), self.before or None, self.after or None)
        return control, hinted


def render_cue(library: PromptLibrary, name: str, task: Task, item: Item, letter: str) -> HintCue:
    """Render the cue template `cues/<name>` for `item` hinting at `letter` (a ConfigurationError names a missing
    template or a malformed slot)."""
    template = f"cues/{name}"
    if not library.exists(template):
        raise ConfigurationError(f"no cue template '{template}.j2': add one to a --prompts-dir or pick another cue")
    request = ParadigmRequest(item=item, task=task)
    variables = {
        "task": task,
        "cue": letter,
        "spoken_cue": spoken(request, letter),
        "cue_text": item.options[item.letters.index(letter)] if letter in item.letters else letter,
        "question": question_text(library, item),
    }

    def text(slot: str) -> str:
        messages = library.render(template, {**variables, "slot": slot}).messages
        return "\n\n".join(message.content for message in messages).strip()

    earlier = library.render(template, {**variables, "slot": "earlier"}).messages
    turns = [(earlier[i], earlier[i + 1]) for i in range(0, len(earlier) - 1, 2)]
    if len(earlier) % 2 or any(u.role != "user" or a.role != "assistant" for u, a in turns):
        raise ConfigurationError(f"cue template '{template}': slot 'earlier' must give [[user]]/[[assistant]] pairs")
    count = text("examples")
    if count and not count.isdigit():
        raise ConfigurationError(f"cue template '{template}': slot 'examples' must be a whole number, not {count!r}")
    return HintCue(
        name=name,
        letter=letter,
        before=text("before"),
        after=text("after"),
        earlier=tuple(Demonstration(input=u.content, output=a.content) for u, a in turns),
        mark=text("mark"),
        examples=int(count or 0),
        shown=text("shown") or f"a hint ({name}) pointing to ({letter})",
        asked=text("asked") or f"the hint pointing to ({letter})",
        phrases=tuple(line.strip() for line in text("phrases").splitlines() if line.strip()),
    )


def question_text(library: PromptLibrary, item: Item) -> str:
    """The item's input and options as every prompt shows them (the `_input` partial)."""
    variables = {"fields": item.fields, "options": list(zip(item.letters, item.options, strict=True))}
    rendered = library.render("_input", {**variables, "preamble": "", "suffix": ""}).messages
    return "\n\n".join(message.content for message in rendered)


def mark_option(item: Item, letter: str, mark: str) -> Item:
    """The item with `mark` put before the text of option `letter`."""
    marked = zip(item.letters, item.options, strict=True)
    options = [f"{mark} {text}" if option == letter else text for option, text in marked]
    return item.model_copy(update={"options": options})


def solved(library: PromptLibrary, task: Task, example: Item, mark: str) -> Demonstration:
    """Another item as a solved example: its question (the right answer marked when `mark` is given) and a reply
    that gives the right answer."""
    assert example.gold is not None
    shown = mark_option(example, example.gold, mark) if mark else example
    answer = spoken(ParadigmRequest(item=example, task=task), example.gold)
    return Demonstration(
        input=f"{task.instruction}\n\n{question_text(library, shown)}", output=f"The answer is {answer}."
    )
