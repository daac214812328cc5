"""Parse model outputs; never guess silently.

Both parsers raise ``OutputParseError`` when an output does not contain what was asked
for. The pipeline retries such calls a bounded number of times and then falls back to
Retain, counting every retry and fallback (see ``pipeline``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dataset_tools.hsu.prompts import MAX_INTEREST_CHARS, MAX_INTERESTS, OPERATION_CODES


class OutputParseError(ValueError):
    """A model output lacks the requested fields; ``output`` keeps the raw text."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(f"{message}; output was: {output[:200]!r}")
        self.output = output


_EXPLANATION_RE = re.compile(r"explanation\s*:\s*(.*?)(?=\n\s*(?:instruction|final interests)\s*:|\Z)", re.I | re.S)
_INSTRUCTION_RE = re.compile(r"instruction\s*:\s*\[?\s*([^\]\n]*)", re.I)
_INTEREST_LINE_RE = re.compile(r"interest\s*\d+\s*[:.)-]\s*(.+?)(?=\s*interest\s*\d+\s*[:.)-]|\n|\Z)", re.I | re.S)
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.+)$")
_OP_WORDS = {
    "delete": ("delet", "remov"),
    "update": ("modif", "updat", "refin"),
    "add": ("add",),
    "retain": ("no change", "retain", "keep", "unchanged"),
}


def parse_explanation(output: str) -> str:
    """The text after ``Explanation:`` up to the next section, or ``""``."""
    match = _EXPLANATION_RE.search(output)
    return " ".join(match.group(1).split()) if match else ""


def parse_selection(output: str, operations: Sequence[str]) -> tuple[str, str]:
    """Read the chosen operation from a selection output (Fig. 4c format).

    Args:
        output: raw model text, e.g. ``"Explanation: ...\\nInstruction: 3"``.
        operations: the allowed operation names.

    Returns:
        ``(operation, explanation)``.

    Raises:
        OutputParseError: no ``Instruction:`` field, or it names no allowed operation or
            more than one.
    """
    match = _INSTRUCTION_RE.search(output)
    if not match:
        raise OutputParseError("no 'Instruction:' field", output)
    value = match.group(1).strip().lower()
    by_code = {str(OPERATION_CODES[op]): op for op in operations}
    digits = re.findall(r"\d+", value)
    chosen: set[str] = set()
    if digits:
        if len(set(digits)) > 1:
            raise OutputParseError(f"several operation numbers {digits}", output)
        if digits[0] not in by_code:
            raise OutputParseError(f"operation number {digits[0]} is not one of {sorted(by_code)}", output)
        chosen.add(by_code[digits[0]])
    else:
        chosen = {op for op in operations if any(word in value for word in _OP_WORDS[op])}
        if len(chosen) != 1:
            raise OutputParseError(f"cannot read one allowed operation from {value!r}", output)
    return chosen.pop(), parse_explanation(output)


def parse_interests(output: str) -> tuple[list[str], str]:
    """Read the interest list from a summary or execution output.

    Accepts ``Interest n: ...`` items (one per line or run together on one line) after
    ``Final interests:``, or bullet / numbered lines there.

    Returns:
        ``(interests, explanation)``: 1..MAX_INTERESTS stripped, de-duplicated strings.

    Raises:
        OutputParseError: no interest could be read.
    """
    marker = re.search(r"final interests\s*:", output, re.I)
    body = output[marker.end():] if marker else output
    interests = [" ".join(m.group(1).split()) for m in _INTEREST_LINE_RE.finditer(body)]
    if not interests and marker:
        for line in body.splitlines():
            bullet = _BULLET_RE.match(line)
            text = bullet.group(1) if bullet else line
            if text.strip():
                interests.append(" ".join(text.split()))
    cleaned = []
    for text in interests:
        text = text.strip(" ;,.").strip()
        if len(text) >= 2 and text.lower() not in (c.lower() for c in cleaned):
            cleaned.append(text[:MAX_INTEREST_CHARS])
    if not cleaned:
        raise OutputParseError("no interests found (expected 'Final interests:' with 'Interest n:' lines)", output)
    return cleaned[:MAX_INTERESTS], parse_explanation(output)
