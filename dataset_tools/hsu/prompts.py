"""Prompt templates (paper Fig. 4) and the output constraints that go with them.

Every prompt is a chat: one static system message, then one user message whose static
instructions and output format come *first* and whose user-specific content (previous
interests, the stage's interaction record) comes *last*. All users therefore share a
long token prefix, which llama.cpp (in-process prefix reuse) and vLLM (prefix caching)
compute once.

Change ``PROMPT_VERSION`` whenever a template's text changes: it is part of every stage
key, so stored results of older prompts are not mistaken for current ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dataset_tools import DatasetToolsError

PROMPT_VERSION = "hsu-v1"

#: Operation names in the paper's numbering (Fig. 4c: 1 deletion, 2 modification,
#: 3 addition, 4 no change). The numbers stay fixed when an ablation removes operations.
OPERATION_CODES: dict[str, int] = {"delete": 1, "update": 2, "add": 3, "retain": 4}
ALL_OPERATIONS: tuple[str, ...] = ("add", "delete", "update", "retain")
OPERATION_LABELS: dict[str, str] = {"delete": "deletion", "update": "modification", "add": "addition", "retain": "no change"}

#: Caps on generated text; they bound both grammars and regexes. Interest lists leave
#: room (8) so that an Add is never silently truncated into no change.
MAX_EXPLANATION_CHARS = 160
MAX_INTEREST_CHARS = 120
MAX_INTERESTS = 8

SYSTEM_PROMPT = (
    "You analyse the interaction history of a user of a recommender system and keep an "
    "up-to-date list of the user's interests. An interest describes a kind of item the user "
    "likes (category, style, purpose, brand or features), written as a short well-described "
    "phrase, never a copied item title. Interests are ranked by importance. Always answer in "
    "exactly the requested output format, with no other text."
)

_INTERESTS_FORMAT = (
    "Output format:\n"
    "Explanation: <one sentence>\n"
    "Final interests:\n"
    "Interest 1: <most important interest>\n"
    "Interest 2: <next interest>\n"
    "(at most {max_interests} interests)"
).format(max_interests=MAX_INTERESTS)

_SUMMARY_STEPS = (
    "Please follow the steps below to infer the user's preferences. "
    "Step 1: Infer the user's current preferences at this stage, focusing primarily on the "
    "types of items the user might like, which can be used for recommending items in the future. "
    "Step 2: When summarizing the user's interests, consider the granularity based on the "
    "interaction data. "
    "Step 3: Each interest should be a well-described phrase. "
    "Explain your reasoning in one sentence and rank the interests by importance."
)

_SELECTION_INSTRUCTIONS = (
    "Judge based on the user's current stage behavior and previous interests. First, identify "
    "the main interests in the current stage by carefully considering the items' kinds and "
    "characteristics. Note that same-category items with different features may reflect "
    "different user interests. Then decide which single operation to apply to the previous "
    "interests. Only one operation may be carried out per stage."
)

_OPERATION_DESCRIPTIONS = {
    "delete": "deletion: previous interests conflict with or do not appear in the current stage; remove them",
    "update": "modification: some previous interests need fine-tuning or modification at this stage",
    "add": "addition: new interests are discovered in the current stage; add them",
    "retain": "no change: the current stage is consistent with the previous interests",
}

#: Fig. 4d, one instruction per operation that needs a second call (Retain needs none).
EXECUTION_INSTRUCTIONS = {
    "add": (
        "New user interests were discovered in the interaction data of the current stage. "
        "Add them to the previous interests and keep the previous ones. Rank the user's "
        "interests by importance."
    ),
    "delete": (
        "Using the current stage's interaction data, remove the previous interests that conflict "
        "with it or do not appear in it. In case of complete conflict with the current interests, "
        "output the current ones."
    ),
    "update": (
        "Some aspects of the previous user interests need fine-tuning or modification at this "
        "stage. Modify them accordingly and output the modified final interests, ranked by importance."
    ),
}


@dataclass(frozen=True)
class OutputConstraint:
    """The same output language written for two constrained-decoding back ends.

    Attributes:
        name: ``interests`` or ``selection``.
        gbnf: llama.cpp GBNF grammar.
        regex: regular expression for vLLM structured outputs.
    """

    name: str
    gbnf: str
    regex: str


def interests_constraint() -> OutputConstraint:
    """Explanation line, then 1..MAX_INTERESTS ``Interest n: ...`` lines."""
    gbnf = (
        'root ::= "Explanation: " expl "\\nFinal interests:" interest{1,%d}\n'
        'interest ::= "\\nInterest " [1-9] ": " text\n'
        "expl ::= [^\\n]{8,%d}\n"
        "text ::= [^\\n]{3,%d}\n"
    ) % (MAX_INTERESTS, MAX_EXPLANATION_CHARS, MAX_INTEREST_CHARS)
    regex = r"Explanation: [^\n]{8,%d}\nFinal interests:(\nInterest [1-9]: [^\n]{3,%d}){1,%d}" % (
        MAX_EXPLANATION_CHARS,
        MAX_INTEREST_CHARS,
        MAX_INTERESTS,
    )
    return OutputConstraint("interests", gbnf, regex)


def selection_constraint(operations: Sequence[str]) -> OutputConstraint:
    """Explanation line, then ``Instruction: n`` with n one of the allowed operations' codes."""
    digits = "".join(str(OPERATION_CODES[op]) for op in sorted(operations, key=OPERATION_CODES.get))
    gbnf = (
        'root ::= "Explanation: " expl "\\nInstruction: " [%s]\n' "expl ::= [^\\n]{8,%d}\n"
    ) % (digits, MAX_EXPLANATION_CHARS)
    regex = r"Explanation: [^\n]{8,%d}\nInstruction: [%s]" % (MAX_EXPLANATION_CHARS, digits)
    return OutputConstraint("selection", gbnf, regex)


def validate_operations(operations: Sequence[str]) -> tuple[str, ...]:
    """Normalise an operation set (paper's ablations drop one operation)."""
    ops = tuple(dict.fromkeys(op.strip().lower() for op in operations if op.strip()))
    unknown = [op for op in ops if op not in OPERATION_CODES]
    if unknown:
        raise DatasetToolsError(f"unknown operation(s) {unknown}; known: {', '.join(ALL_OPERATIONS)}")
    if not ops:
        raise DatasetToolsError("the operation set is empty; give at least one of " + ", ".join(ALL_OPERATIONS))
    return tuple(op for op in ALL_OPERATIONS if op in ops)


def format_interests(interests: Sequence[str]) -> str:
    """Interests as numbered lines, the way prompts show them."""
    if not interests:
        return "(none)"
    return "\n".join(f"Interest {i}: {text}" for i, text in enumerate(interests, start=1))


def _chat(user_content: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user_content}]


def summary_messages(stage_record: str, oneshot: bool = False) -> list[dict[str, str]]:
    """Stage 1 (Fig. 4b), or the one-shot CoT baseline over the whole training history."""
    scope = (
        "The following is the user's complete interaction history, oldest first."
        if oneshot
        else "The following is the historical interaction record of the user at the current stage."
    )
    return _chat(f"{_SUMMARY_STEPS}\n\n{_INTERESTS_FORMAT}\n\n{scope}\n{stage_record}")


def selection_messages(
    stage_record: str, previous_interests: Sequence[str], operations: Sequence[str]
) -> list[dict[str, str]]:
    """Stage k >= 2, operation selection (Fig. 4c), offering only ``operations``."""
    ordered = sorted(operations, key=OPERATION_CODES.get)
    menu = "\n".join(f"{OPERATION_CODES[op]} = {_OPERATION_DESCRIPTIONS[op]}" for op in ordered)
    output = (
        "Output format:\n"
        "Explanation: <reason for the operation, one sentence>\n"
        f"Instruction: <only the number: {', '.join(str(OPERATION_CODES[op]) for op in ordered)}>"
    )
    return _chat(
        f"{_SELECTION_INSTRUCTIONS}\nOperations:\n{menu}\n\n{output}\n\n"
        f"The user's previous interests:\n{format_interests(previous_interests)}\n\n"
        "The following is the historical interaction record of the user at the current stage.\n"
        f"{stage_record}"
    )


def execution_messages(
    operation: str, stage_record: str, previous_interests: Sequence[str], reason: str
) -> list[dict[str, str]]:
    """Stage k >= 2, executing the chosen operation (Fig. 4d). Not used for Retain."""
    if operation not in EXECUTION_INSTRUCTIONS:
        raise ValueError(f"operation {operation!r} needs no execution call")
    return _chat(
        f"{EXECUTION_INSTRUCTIONS[operation]}\n\n{_INTERESTS_FORMAT}\n\n"
        f"The user's previous interests:\n{format_interests(previous_interests)}\n\n"
        f"Reason for this operation: {reason or '(none given)'}\n\n"
        "The following is the historical interaction record of the user at the current stage.\n"
        f"{stage_record}"
    )
