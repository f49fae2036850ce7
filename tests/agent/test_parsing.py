"""Reading answers out of messy replies."""

from __future__ import annotations

import pytest

from agent.items import Item, Task
from agent.paradigms import ParadigmRequest, parse_answer
from agent.paradigms._edits import parse_rewrite
from agent.paradigms._explanations import parse_explain_then_predict
from agent.paradigms._importance import parse_important_words
from agent.paradigms._reasoning import parse_chain_of_thought
from agent.parsing import ReplyParseError, extract_json, match_label, match_letter, normalise_number, split_steps

SENTIMENT = Task(name="sentiment", kind="classification", instruction="Classify.", labels=("positive", "negative"))
NLI = Task(name="nli", kind="classification", instruction="NLI?", labels=("entailment", "neutral", "contradiction"))
MC = Task(name="mc", kind="multiple_choice", instruction="Pick.", normaliser="letter")
MATH = Task(name="math", kind="free_form", instruction="Solve.", normaliser="number")


def request(task: Task, options: list[str] | None = None, allow_unknown: bool = False) -> ParadigmRequest:
    item = Item(id="x", fields={"text": "some text"}, options=options or [])
    return ParadigmRequest(item=item, task=task, allow_unknown=allow_unknown)


@pytest.mark.parametrize(
    ("reply", "expected", "method"),
    [
        ('```json\n{"answer": "negative"}\n```', "negative", "json"),
        ('Sure! {"answer": "Positive"} Hope that helps.', "positive", "json"),
        ("NEGATIVE", "negative", "text"),
        ("Negative.\n\nThe review complains about the plot.", "negative", "text"),
        ("The sentiment of this review is positive.", "positive", "text"),
        ("Answer: **negative**", "negative", "text"),
        ('{"sentiment": "negative"}', "negative", "json"),
        ("It is not positive; the answer is negative", "negative", "text"),
    ],
)
def test_classification_answers(reply: str, expected: str, method: str) -> None:
    assert parse_answer(request(SENTIMENT), reply) == (expected, method)


def test_wrong_json_keys_fall_back_to_text() -> None:
    assert parse_answer(request(SENTIMENT), '{"verdict": "negative"}') == ("negative", "text")


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("I'm sorry, but I can't help with that.", "refusal"),
        ("positive or negative, hard to say", "ambiguous"),
        ("The movie was long.", "format"),
    ],
)
def test_unreadable_classification_replies(reply: str, kind: str) -> None:
    with pytest.raises(ReplyParseError) as info:
        parse_answer(request(SENTIMENT), reply)
    assert info.value.kind == kind


def test_labels_that_contain_each_other_are_not_confused() -> None:
    labels = ["positive", "very positive"]
    assert match_label("very positive", labels) == "very positive"
    assert match_label("Answer: positive", labels) == "positive"


def test_unknown_is_read_only_when_allowed() -> None:
    assert parse_answer(request(SENTIMENT, allow_unknown=True), "Unknown.")[0] == "unknown"
    assert parse_answer(request(SENTIMENT, allow_unknown=True), "It cannot be determined.")[0] == "unknown"
    with pytest.raises(ReplyParseError):
        parse_answer(request(SENTIMENT), "Unknown.")


@pytest.mark.parametrize(
    "reply",
    [
        "(B)",
        "B",
        "b)",
        "The answer is (B).",
        "Answer: B",
        "So the best answer is: (B).",
        "(B) blue",
        "I think B. blue is right",
        '{"answer": "(B)"}',
        "The correct choice is B because it is blue.",
    ],
)
def test_option_letters(reply: str) -> None:
    assert parse_answer(request(MC, ["red", "blue", "green"]), reply)[0] == "B"


def test_option_text_maps_to_its_letter() -> None:
    assert match_letter("It must be green.", ["A", "B", "C"], ["red", "blue", "green"]) == "C"


def test_letter_outside_the_options_is_rejected() -> None:
    with pytest.raises(ReplyParseError):
        match_letter("(E)", ["A", "B", "C"])


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("18", "18"),
        ("$18.00", "18"),
        ("The answer is 1,234 dollars.", "1234"),
        ("#### 72", "72"),
        ("She has 3 apples, then 5, so the final answer: 8 apples", "8"),
        ("-4.50", "-4.5"),
        ("0.25 km", "0.25"),
    ],
)
def test_numbers_with_units_and_separators(reply: str, expected: str) -> None:
    assert normalise_number(reply) == expected
    assert parse_answer(request(MATH), reply)[0] == expected


def test_extract_json_finds_objects_in_prose_and_fences() -> None:
    assert extract_json('blah ```json\n{"a": [1, 2]}\n``` blah') == {"a": [1, 2]}
    assert extract_json('Here: {"a": 1} and more') == {"a": 1}
    assert extract_json("no json {here") is None


def test_explain_then_predict_needs_an_answer_line() -> None:
    explanation, answer, _ = parse_explain_then_predict(
        request(SENTIMENT), "The acting was wooden and the plot slow.\nAnswer: Negative"
    )
    assert (explanation, answer) == ("The acting was wooden and the plot slow.", "negative")
    with pytest.raises(ReplyParseError):
        parse_explain_then_predict(request(SENTIMENT), "negative")
    # Prose that explains, then states the answer in its last sentence, is read; one sentence alone is not.
    explanation, answer, _ = parse_explain_then_predict(
        request(SENTIMENT), "The acting was wooden. It dragged too.\nSo the review is negative."
    )
    assert (explanation, answer) == ("The acting was wooden. It dragged too.", "negative")
    for unreadable in ("The review is negative.", "It was slow. It is positive or negative."):
        with pytest.raises(ReplyParseError):
            parse_explain_then_predict(request(SENTIMENT), unreadable)


def test_important_words_from_lists_json_and_scores() -> None:
    source = "The plot dragged and the acting was wooden."
    words = parse_important_words('1. dragged\n2. "wooden"\n3. plot', source, k=3)
    assert [w.text for w in words] == ["dragged", "wooden", "plot"]
    assert all(w.in_input for w in words)
    scored = parse_important_words("dragged: 0.9\nwooden: 0.7\nboring: 0.1", source, k=3)
    assert [(w.text, w.score, w.in_input) for w in scored] == [
        ("dragged", 0.9, True),
        ("wooden", 0.7, True),
        ("boring", 0.1, False),
    ]
    as_json = parse_important_words('{"words": [{"word": "wooden", "score": 1}]}', source, k=3)
    assert (as_json[0].text, as_json[0].score) == ("wooden", 1.0)
    assert len(parse_important_words("a, b, c, d, e", "a b c d e", k=2)) == 2


def test_rewrites_lose_labels_quotes_and_commentary() -> None:
    original = "The plot dragged."
    assert parse_rewrite('Edited review: "The plot flew by."', original, "review") == "The plot flew by."
    assert (
        parse_rewrite("The plot flew by.\n\nI changed dragged to flew by.", original, "review") == "The plot flew by."
    )
    assert parse_rewrite('{"edited": "The plot raced."}', original, "review") == "The plot raced."
    with pytest.raises(ReplyParseError):
        parse_rewrite("word " * 200, original, "review")


def test_chain_of_thought_steps_and_answer() -> None:
    steps, answer, _ = parse_chain_of_thought(
        request(MC, ["red", "blue"]),
        "1. The sky is blue.\n2. So it is not red.\nSo the best answer is: (B).",
    )
    assert steps == ["The sky is blue.", "So it is not red."]
    assert answer == "B"
    with pytest.raises(ReplyParseError):
        parse_chain_of_thought(request(MC, ["red", "blue"]), "The answer is (B).")
    # Reasoning with no answer line: the steps, to the first repeat, and no answer (the caller forces one).
    steps, answer, method = parse_chain_of_thought(
        request(MC, ["red", "blue"]), "1. The sky is blue.\n2. Look up.\n3. Look up.\n4. Lo"
    )
    assert (steps, answer, method) == (["The sky is blue.", "Look up."], None, "forced")
    # An answer line naming no answer on offer: the steps before it, and the answer is forced too.
    steps, answer, _ = parse_chain_of_thought(
        request(MC, ["red", "blue"]), "1. Hmm.\n2. Hmm, hm.\nThe answer is purple."
    )
    assert (steps, answer) == (["Hmm.", "Hmm, hm."], None)
    # Too little reasoning to force an answer after: an error, re-asked.
    with pytest.raises(ReplyParseError):
        parse_chain_of_thought(request(MC, ["red", "blue"]), "Hmm.\nThe answer is purple.")


def test_split_steps_handles_prose() -> None:
    assert split_steps("First we add. Then we divide. Done") == ["First we add.", "Then we divide.", "Done"]


def test_words_a_sentence_introduces_are_the_list_even_when_not_in_the_input() -> None:
    source = "The plot dragged and the acting was wooden."
    reply = 'The three most important words for determining the sentiment of this review are "dramatical" and "woody."'
    words = parse_important_words(reply, source, k=3)
    assert [(w.text, w.in_input) for w in words] == [("dramatical", False), ("woody", False)]


def test_important_words_quoted_in_prose_and_sentences_that_are_answers() -> None:
    source = "Went back around, told that always rude guy what happened."
    prose = 'The 3 most important words in this sentence are "went" and "back".'
    assert [w.text for w in parse_important_words(prose, source, k=3)] == ["went", "back"]
    for answer in ("The answer is: positive", "The review sentence is positive."):
        with pytest.raises(ReplyParseError):
            parse_important_words(answer, source, k=3)
