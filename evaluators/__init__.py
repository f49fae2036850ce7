"""The verifier: faithfulness tests that perturb inputs or rationales and compare the model's outputs.

Each test is a registered `FaithfulnessTest` with a fixed name; `get_test(name)` returns one, `test_names()` lists
them. Test families live in the public modules of this package and register themselves when imported.
"""

from evaluators._base import (
    ROLES,
    FaithfulnessTest,
    TestContext,
    TestParams,
    get_test,
    register_test,
    role_explainer,
    test_classes,
    test_names,
)
from evaluators._metrics import area_over_curve, bootstrap_interval, pearson, total_variation, wilson_interval
from evaluators._verdict import Evidence, Figure, Outcome, TestSummary, Verdict, summarise_outcomes

__all__ = [
    "ROLES",
    "Evidence",
    "FaithfulnessTest",
    "Figure",
    "Outcome",
    "TestContext",
    "TestParams",
    "TestSummary",
    "Verdict",
    "area_over_curve",
    "bootstrap_interval",
    "get_test",
    "pearson",
    "register_test",
    "role_explainer",
    "summarise_outcomes",
    "test_classes",
    "test_names",
    "total_variation",
    "wilson_interval",
]
