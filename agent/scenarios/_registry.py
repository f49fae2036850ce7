"""The datasets a scenario's `dataset:` may name: the eleven shipped under scenarios/data, plus jsonl and csv."""

from __future__ import annotations

from agent.errors import ConfigurationError
from agent.scenarios._bbh import BBH_TASKS, BBHOptions, load_bbh
from agent.scenarios._chainscope import load_chainscope
from agent.scenarios._commonsense import load_comve, load_cose
from agent.scenarios._math import load_aqua, load_gsm8k
from agent.scenarios._nli import ESNLIOptions, load_esnli
from agent.scenarios._qa import TruthfulQAOptions, load_arc_challenge, load_truthfulqa
from agent.scenarios._sentiment import DYNASENT_SUBSETS, DynaSentOptions, SST2Options, load_dynasent, load_sst2
from agent.scenarios._types import DatasetSpec
from agent.scenarios._user_files import CSVOptions, JSONLOptions, load_user_file

SUITE = "suite"
"""The `dataset:` of a scenario that combines other scenarios."""

_SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="bbh_turpin",
        summary="13 BIG-Bench Hard tasks with Turpin et al.'s shuffled options, suggested answers and few-shot CoT",
        licence="MIT (Turpin et al.; BIG-Bench Hard) + Apache-2.0 (BIG-bench)",
        load=load_bbh,
        kind="multiple_choice",
        folder="bbh_turpin",
        options_model=BBHOptions,
        subsets=BBH_TASKS,
        multiple_subsets=True,
    ),
    DatasetSpec(
        name="esnli",
        summary="e-SNLI test: premise/hypothesis NLI with three human explanations",
        licence="MIT (e-SNLI); SNLI text CC BY-SA 4.0",
        load=load_esnli,
        kind="classification",
        folder="esnli",
        options_model=ESNLIOptions,
    ),
    DatasetSpec(
        name="cose",
        summary="CommonsenseQA v1.11 dev (5 options) with CoS-E explanations",
        licence="BSD-3-Clause (CoS-E) + MIT (CommonsenseQA)",
        load=load_cose,
        kind="multiple_choice",
        folder="cose",
    ),
    DatasetSpec(
        name="comve",
        summary="ComVE (SemEval-2020 Task 4) test: which of two statements is against common sense",
        licence="CC BY-SA 4.0",
        load=load_comve,
        kind="multiple_choice",
        folder="comve",
    ),
    DatasetSpec(
        name="dynasent",
        summary="DynaSent v1.1 Round 1 test: Yelp review sentences, 5-annotator sentiment labels",
        licence="CC BY 4.0 (Yelp-text caveat)",
        load=load_dynasent,
        kind="classification",
        folder="dynasent",
        options_model=DynaSentOptions,
        subsets=DYNASENT_SUBSETS,
    ),
    DatasetSpec(
        name="sst2",
        summary="GLUE SST-2 validation: movie review sentences, positive/negative",
        licence="none stated (unknown)",
        load=load_sst2,
        kind="classification",
        folder="sst2",
        options_model=SST2Options,
    ),
    DatasetSpec(
        name="gsm8k",
        summary="GSM8K test: grade-school math word problems with worked solutions",
        licence="MIT",
        load=load_gsm8k,
        kind="free_form",
        folder="gsm8k",
    ),
    DatasetSpec(
        name="truthfulqa",
        summary="TruthfulQA (Jan 2025) multiple choice: questions that invite imitative falsehoods",
        licence="Apache-2.0",
        load=load_truthfulqa,
        kind="multiple_choice",
        folder="truthfulqa",
        options_model=TruthfulQAOptions,
    ),
    DatasetSpec(
        name="aqua",
        summary="AQuA-RAT test: algebra word problems with 5 options and rationales",
        licence="Apache-2.0",
        load=load_aqua,
        kind="multiple_choice",
        folder="aqua",
    ),
    DatasetSpec(
        name="arc_challenge",
        summary="ARC-Challenge dev: grade-school science questions",
        licence="CC BY-SA 4.0",
        load=load_arc_challenge,
        kind="multiple_choice",
        folder="arc_challenge",
    ),
    DatasetSpec(
        name="chainscope",
        summary="Arcuschin et al.'s comparative YES/NO questions, as reversed pairs (3 properties of the paper's set)",
        licence="MIT (chainscope; World Model data MIT)",
        load=load_chainscope,
        kind="classification",
        folder="chainscope",
    ),
    DatasetSpec(
        name="jsonl",
        summary="your JSON Lines file (path: and fields: in the scenario)",
        licence="as the scenario's licence: says",
        load=load_user_file,
        options_model=JSONLOptions,
        user_file=True,
    ),
    DatasetSpec(
        name="csv",
        summary="your CSV file with a header row (path: and fields: in the scenario)",
        licence="as the scenario's licence: says",
        load=load_user_file,
        options_model=CSVOptions,
        user_file=True,
    ),
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def dataset_names() -> list[str]:
    """Every name `dataset:` accepts, including "suite"."""
    return [*DATASETS, SUITE]


def get_dataset(name: str) -> DatasetSpec:
    """The dataset called `name`, or a ConfigurationError listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigurationError(f"unknown dataset '{name}'; expected one of: {', '.join(DATASETS)}") from None
