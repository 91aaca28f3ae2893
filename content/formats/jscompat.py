"""JavaScript number and whitespace semantics, for reading charts exactly as scan-chart does.

scan-chart (TypeScript) reads numbers with ``Number()`` and ``parseFloat()`` and trims lines with
``String.prototype.trim``; Python's ``float()``/``str.strip()`` accept and strip slightly different
things (``"1_000"``, ``"nan"``, U+FEFF, U+001C...). These helpers give the JavaScript answers.
"""
from __future__ import annotations

import math
import re

JS_WHITESPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""What ``String.prototype.trim``, ``Number()`` and ``parseFloat`` skip (WhiteSpace +
LineTerminator)."""

_DECIMAL = r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
_FLOAT_PREFIX = re.compile(_DECIMAL)
_NUMBER = re.compile(rf"{_DECIMAL}|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")


def js_trim(text: str) -> str:
    """``text.trim()``."""
    return text.strip(JS_WHITESPACE)


def _decimal(s: str) -> float:
    if s.endswith("Infinity"):
        return -math.inf if s.startswith("-") else math.inf
    return float(s)


def js_parse_float(text: str | None) -> float:
    """``parseFloat(text)``: the decimal number at the start of ``text``, else NaN (also for
    None)."""
    if text is None:
        return math.nan
    m = _FLOAT_PREFIX.match(text.lstrip(JS_WHITESPACE))
    return _decimal(m.group()) if m else math.nan


def js_number(text: str | None) -> float:
    """``Number(text)``: the whole (trimmed) text as a number, ``""`` is 0, else NaN (also for
    None)."""
    if text is None:
        return math.nan
    s = js_trim(text)
    if not s:
        return 0.0
    if not _NUMBER.fullmatch(s):
        return math.nan
    if s[:2] in ("0x", "0X"):
        return float(int(s[2:], 16))
    if s[:2] in ("0o", "0O"):
        return float(int(s[2:], 8))
    if s[:2] in ("0b", "0B"):
        return float(int(s[2:], 2))
    return _decimal(s)
