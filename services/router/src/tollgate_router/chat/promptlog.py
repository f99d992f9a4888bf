"""Opt-in prompt logging with redaction (a virtual key's ``log_prompts``).

By default no prompt or answer text reaches a log line. A key created or patched with
``log_prompts: true`` gets one extra ``prompt_logged`` line per call holding its messages and the
answer's text, after redaction of what commonly leaks secrets or personal data:

* e-mail addresses → ``[email]``
* API keys and tokens (``sk-...``, ``tg_...``, ``whsec_...``, ``Bearer ...``, JWTs, long random
  strings) → ``[secret]``
* payment card numbers (13 to 19 digits passing the Luhn check) → ``[card]``
* phone-like numbers (9 or more digits with separators) → ``[phone]``

Text is cut at ``max_chars`` in total (the marker ``…[truncated]`` says so); images and audio parts are
replaced by ``[image]`` / ``[audio]``. Redaction is best effort: it lowers the chance of a secret in a log,
it is not a guarantee, which is why logging stays off unless a key asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import msgspec

_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_BEARER: Final = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}")
_PREFIXED_KEY: Final = re.compile(
    r"\b(?:sk|pk|rk|tg|tgk|tgr|tgs|whsec|xox[abpr]|ghp|gho|glpat|AKIA)[-_][A-Za-z0-9_\-]{8,}"
)
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
_LONG_TOKEN: Final = re.compile(
    r"\b(?=[A-Za-z0-9_\-+/]*\d)(?=[A-Za-z0-9_\-+/]*[A-Za-z])[A-Za-z0-9_\-+/]{32,}={0,2}"
)
_CARD: Final = re.compile(r"\b\d(?:[ \-]?\d){12,18}\b")
_PHONE: Final = re.compile(r"(?<![\w])\+?\d(?:[\s().\-]*\d){8,14}(?![\w])")
TRUNCATED: Final = "…[truncated]"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ \-]", "", match.group(0))
    return "[card]" if _luhn_ok(digits) else match.group(0)


_RULES: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (_EMAIL, "[email]"),
    (_BEARER, r"\1 [secret]"),
    (_JWT, "[secret]"),
    (_PREFIXED_KEY, "[secret]"),
    (_LONG_TOKEN, "[secret]"),
    (_CARD, _card),
    (_PHONE, "[phone]"),
)


def redact(text: str) -> str:
    """``text`` with e-mails, keys/tokens, card numbers and phone numbers replaced by markers."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class _Budget:
    """Characters left for one call's log line (messages and answer together)."""

    def __init__(self, max_chars: int) -> None:
        self.left = max_chars

    def take(self, text: str) -> str:
        if self.left <= 0:
            return TRUNCATED if text else ""
        if len(text) > self.left:
            text = text[: self.left] + TRUNCATED
            self.left = 0
            return text
        self.left -= len(text)
        return text


def _content(content: Any, budget: _Budget) -> str:
    if isinstance(content, str):
        return budget.take(redact(content))
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append(budget.take(redact(part["text"])))
            elif kind in ("image_url", "image"):
                parts.append("[image]")
            elif kind in ("input_audio", "audio"):
                parts.append("[audio]")
        return " ".join(p for p in parts if p)
    return ""


def redacted_messages(messages: Any, max_chars: int) -> tuple[list[dict[str, str]], _Budget]:
    """The request's messages as ``[{role, content}]``, redacted and cut to ``max_chars``."""
    budget = _Budget(max_chars)
    out: list[dict[str, str]] = []
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            out.append(
                {
                    "role": role if isinstance(role, str) else "?",
                    "content": _content(message.get("content"), budget),
                }
            )
    return out, budget


def answer_text(body: bytes) -> str:
    """The first choice's text of a non-streamed chat completion body ('' when there is none)."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return ""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return ""
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def delta_text(chunk: bytes) -> str:
    """The text a streamed chunk adds ('' for role, tool or usage chunks)."""
    try:
        data = msgspec.json.decode(chunk)
    except msgspec.DecodeError:
        return ""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def prompt_record(messages: Any, answer: str, max_chars: int) -> dict[str, Any]:
    """The fields of a ``prompt_logged`` line: redacted messages and answer within ``max_chars``."""
    redacted, budget = redacted_messages(messages, max_chars)
    return {"messages": redacted, "answer": budget.take(redact(answer))}
