"""The demo ledger: the comparison the product grew from.

Two tools, a panel of four reviewers, eight verdicts and one comparison,
appended through the same commands a user would call. Loading it twice
appends nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import errors
from ledger.application import Ledger
from ledger.context import Context

CONTEXT = Context(actor="system", request_id="demo")

TOOLS = {
    "code-llama-4": {
        "name": "Code Llama 4 (70B & 400B)",
        "vendor": "Meta",
        "category": "Developer Tools",
        "tagline": "Meta's open code models in 70B and 400B sizes, free to self-host",
        "description": (
            "Meta released Code Llama 4 as downloadable weights in two sizes, "
            "70B and 400B parameters, under a permissive research license. It "
            "aims at the top of HumanEval and SWE-bench, supports function "
            "calling and long-context completion, and can be self-hosted or "
            "fine-tuned with no per-token fees."
        ),
        "entry": "Free",
        "license": "Permissive research license",
    },
    "mistral-medium-3": {
        "name": "Mistral Medium 3 (72B Instruct)",
        "vendor": "Mistral AI",
        "category": "Developer Tools",
        "tagline": "A 72B open-weight model under Apache 2.0 that beats its size class",
        "description": (
            "Mistral AI published the weights of Mistral Medium 3, a 72B "
            "instruction-tuned model for coding and reasoning, under Apache 2.0. "
            "Mistral says it rivals larger closed models on benchmarks; it can "
            "be self-hosted, fine-tuned or used through Mistral's API, with no "
            "limits on commercial use."
        ),
        "entry": "Free",
        "license": "Apache 2.0",
    },
}

REVIEWERS = {
    "builder": ("The Builder", "builder"),
    "skeptic": ("The Skeptic", "skeptic"),
    "futurist": ("The Futurist", "futurist"),
    "buyer": ("The Buyer", "buyer"),
}


@dataclass(frozen=True)
class DemoVerdict:
    tool: str
    reviewer: str
    verdict: str
    rationale: str


VERDICTS = (
    DemoVerdict(
        "code-llama-4",
        "builder",
        "ship",
        "Real weights you run yourself, no vendor in the loop. The 70B quant "
        "comes up on one big GPU without fuss, and function calling is built "
        "into the model rather than bolted on.",
    ),
    DemoVerdict(
        "mistral-medium-3",
        "builder",
        "ship",
        "A 72B instruct model on two A100s that you fully own. The download "
        "works as promised, and choosing Apache 2.0 over a restrictive license "
        "is the decision that earns it.",
    ),
    DemoVerdict(
        "code-llama-4",
        "skeptic",
        "ship",
        "The benchmark claims come from Meta's own evaluation setup and most "
        "teams cannot afford to tune the 400B. Still, the license and "
        "availability are real, and it will become the base everyone "
        "fine-tunes from.",
    ),
    DemoVerdict(
        "mistral-medium-3",
        "skeptic",
        "ship",
        "Rivals like Qwen2.5-72B are just as open and the evals are "
        "cherry-picked. But Apache 2.0 at this size is genuine and self-hosting "
        "is easy, even if a newer open model may overtake it within a year.",
    ),
    DemoVerdict(
        "code-llama-4",
        "futurist",
        "ship",
        "Agentic coding volume will push inference onto self-hosted open "
        "weights. Two sizes cover the single node and the cluster, and tuning "
        "on private code without sending it out is the real shift.",
    ),
    DemoVerdict(
        "mistral-medium-3",
        "futurist",
        "ship",
        "Cost, latency and data residency will make owning the model the norm. "
        "An Apache 2.0 model that fits a mid-size team's GPUs turns the model "
        "into a commodity and makes data the moat.",
    ),
    DemoVerdict(
        "code-llama-4",
        "buyer",
        "ship",
        "The buyer is an engineering team that wants code kept in-house, with "
        "an infrastructure budget. Fast release cadence may age it quickly, "
        "but free weights on compute you already pay for is easy to defend.",
    ),
    DemoVerdict(
        "mistral-medium-3",
        "buyer",
        "skip",
        "Open weights undercut Mistral's own paid API, and no enterprise tier "
        "with switching costs is on offer. A credible managed offering would "
        "change the call.",
    ),
)

QUESTION = "Which one should you ship with?"


def load(ledger: Ledger) -> int:
    """Appends whatever part of the demo is missing; returns events appended."""
    appended = 0

    def attempt(command: object, *args: object, **kwargs: object) -> None:
        nonlocal appended
        try:
            command(*args, **kwargs)  # type: ignore[operator]
        except errors.AlreadyExists:
            return
        appended += 1

    for slug, fields in TOOLS.items():
        attempt(ledger.register_tool, CONTEXT, slug, fields)
    for handle, (name, lens) in REVIEWERS.items():
        attempt(ledger.enroll_reviewer, CONTEXT, handle, name=name, lens=lens)
    for item in VERDICTS:
        attempt(
            ledger.submit_review,
            Context(actor=f"reviewer:{item.reviewer}", request_id="demo"),
            item.tool,
            item.reviewer,
            verdict=item.verdict,
            rationale=item.rationale,
        )
    attempt(
        ledger.publish_comparison,
        CONTEXT,
        "code-llama-4",
        "mistral-medium-3",
        question=QUESTION,
    )
    return appended
