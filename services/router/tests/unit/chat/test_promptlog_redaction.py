"""Prompt logging redacts what commonly leaks secrets or personal data, and stays within its size."""

from __future__ import annotations

import msgspec
import pytest

from tollgate_router.chat.promptlog import TRUNCATED, answer_text, delta_text, prompt_record, redact


@pytest.mark.parametrize(
    ("text", "marker", "gone"),
    [
        ("mail me at jane.doe+x@example.co.uk please", "[email]", "jane.doe"),
        ("my key is sk-proj-AbCdEf0123456789xyz ok", "[secret]", "AbCdEf0123456789"),
        ("use tg_live_9f8e7d6c5b4a39281706 now", "[secret]", "9f8e7d6c5b4a"),
        ("Authorization: Bearer abcdefgh12345678", "Bearer [secret]", "abcdefgh12345678"),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
            ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "[secret]",
            "eyJhbGci",
        ),
        ("card 4111 1111 1111 1111 exp 12/29", "[card]", "4111 1111"),
        ("call +33 6 12 34 56 78 tonight", "[phone]", "12 34 56"),
        ("opaque 8c1f0b4e2d7a9c3b5e6f8a1d2c4b7e9f0a3c5d7e", "[secret]", "8c1f0b4e2d7a"),
    ],
)
def test_sensitive_strings_are_replaced(text: str, marker: str, gone: str) -> None:
    out = redact(text)
    assert marker in out
    assert gone not in out


def test_ordinary_text_and_numbers_survive() -> None:
    text = "Summarize the 2024 report: revenue grew 12% to 3,400 units in 45 days."
    assert redact(text) == text


def test_a_digit_run_failing_luhn_is_not_called_a_card() -> None:
    assert "[card]" not in redact("order 1234 5678 9012 3456")


def test_record_is_cut_at_the_budget_across_messages_and_answer() -> None:
    messages = [
        {"role": "system", "content": "s" * 30},
        {"role": "user", "content": [{"type": "text", "text": "u" * 30}, {"type": "image_url"}]},
    ]
    record = prompt_record(messages, "a" * 30, max_chars=50)
    assert record["messages"][0] == {"role": "system", "content": "s" * 30}
    assert record["messages"][1]["content"] == "u" * 20 + TRUNCATED + " [image]"
    assert record["answer"] == TRUNCATED


def test_answer_text_of_completions_and_chunks() -> None:
    body = msgspec.json.encode({"choices": [{"message": {"role": "assistant", "content": "hi"}}]})
    chunk = msgspec.json.encode({"choices": [{"delta": {"content": "h"}}]})
    assert answer_text(body) == "hi"
    assert delta_text(chunk) == "h"
    assert answer_text(b"not json") == delta_text(b'{"choices": []}') == ""
