"""Parsers of model outputs: well-formed, tolerated variants, and malformed outputs that
must raise instead of being guessed."""

from __future__ import annotations

import re

import pytest

from dataset_tools.hsu import prompts
from dataset_tools.hsu.parsing import OutputParseError, parse_interests, parse_selection

ALL = prompts.ALL_OPERATIONS


@pytest.mark.parametrize(
    "output, expected",
    [
        ("Explanation: shift to hair care\nInstruction: 3", "add"),
        ("Explanation: x\nInstruction:[1]", "delete"),
        ("Explanation: x\n Instruction: 2.", "update"),
        ("explanation: same as before\ninstruction: 4 (no change)", "retain"),
        ("Explanation: x\nInstruction: modification", "update"),
        ("Explanation: nothing new\nInstruction: no change", "retain"),
    ],
)
def test_selection_reads_the_operation(output, expected):
    operation, explanation = parse_selection(output, ALL)
    assert operation == expected
    assert explanation and "Instruction" not in explanation


@pytest.mark.parametrize(
    "output, message",
    [
        ("I think the user likes makeup.", "no 'Instruction:' field"),
        ("Explanation: x\nInstruction: 7", "not one of"),
        ("Explanation: x\nInstruction: 1 or 3", "several operation numbers"),
        ("Explanation: x\nInstruction: add or delete", "cannot read one allowed operation"),
        ("Explanation: x\nInstruction:", "cannot read one allowed operation"),
        ("", "no 'Instruction:' field"),
    ],
)
def test_malformed_selection_raises(output, message):
    with pytest.raises(OutputParseError, match=re.escape(message)):
        parse_selection(output, ALL)


def test_selection_respects_the_ablated_operation_set():
    without_add = prompts.validate_operations(["delete", "update", "retain"])
    with pytest.raises(OutputParseError, match="not one of"):
        parse_selection("Explanation: x\nInstruction: 3", without_add)
    assert parse_selection("Explanation: x\nInstruction: 1", without_add)[0] == "delete"


def test_interests_in_the_requested_format():
    output = (
        "Explanation: the user buys nail products\nFinal interests:\n"
        "Interest 1: Nail polish in bright colours\nInterest 2: Nail care tools"
    )
    interests, explanation = parse_interests(output)
    assert interests == ["Nail polish in bright colours", "Nail care tools"]
    assert explanation == "the user buys nail products"


def test_interests_run_together_on_one_line_bullets_and_duplicates():
    assert parse_interests("Final interests: Interest 1: Lip care Interest 2: Eye makeup")[0] == ["Lip care", "Eye makeup"]
    assert parse_interests("Explanation: x\nFinal interests:\n- Hair care\n- hair care\n2) Sun care")[0] == [
        "Hair care",
        "Sun care",
    ]
    many = "Final interests:" + "".join(f"\nInterest {n}: topic {n}" for n in range(1, 13))
    assert len(parse_interests(many)[0]) == prompts.MAX_INTERESTS


@pytest.mark.parametrize("output", ["", "Explanation: I cannot tell.", "Final interests:\n", "Explanation: x\nFinal interests:\n- ."])
def test_malformed_interests_raise(output):
    with pytest.raises(OutputParseError, match="no interests found"):
        parse_interests(output)


def test_outputs_matching_the_constraints_always_parse():
    # The grammars/regexes handed to engines describe outputs the parsers accept.
    selection = prompts.selection_constraint(ALL)
    sample = "Explanation: the user moved on to hair care\nInstruction: 3"
    assert re.fullmatch(selection.regex, sample)
    assert parse_selection(sample, ALL)[0] == "add"
    interests = prompts.interests_constraint()
    sample = "Explanation: mostly nail products\nFinal interests:\nInterest 1: Nail polish\nInterest 2: Cuticle care"
    assert re.fullmatch(interests.regex, sample)
    assert parse_interests(sample)[0] == ["Nail polish", "Cuticle care"]
