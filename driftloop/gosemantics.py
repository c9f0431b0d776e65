"""Go's meaning of the few things Argo's YAML borrows from Go, in one place.

Argo Events' filters and Argo Workflows' expressions are evaluated by Go programs, so a rule in a Sensor or
a Workflow means what Go says it means — which is not always what Python says:

* **Regular expressions are RE2.** ``$`` is the end of the text (Python's ``$`` also matches before a final
  newline, so ``^credit$`` would admit ``"credit\\n"``), and look-arounds and back-references do not exist.
  :func:`regexp` compiles with RE2 itself (the ``google-re2`` wheel), so the syntax and the semantics are
  Go's, errors included.
* **Strings are bytes.** sprig's ``trunc`` counts bytes, not characters; a cut through a multi-byte character
  leaves an invalid byte, which Go's JSON encoder turns into U+FFFD — as :func:`trunc` does.
* **``quote`` escapes** as ``strconv.Quote`` (``%q``) does, and a template's ``"..."`` literal is read as
  ``strconv.Unquote`` reads it (:func:`unquote`: ``\\xHH`` and octal escapes are bytes, other text UTF-8).

The local sensor (:mod:`driftloop.local.sensor`) and the local executor's expression functions both call
these; ``tests/unit/test_gosemantics.py`` pins the behaviours for both.
"""

from __future__ import annotations

from typing import Any, Protocol

import re2

__all__ = ["GoRegexpError", "Match", "Pattern", "quote", "regexp", "regexp_error", "trunc", "unquote"]

GoRegexpError = re2.error


class Match(Protocol):
    def group(self, *index: int | str) -> Any: ...
    def start(self, group: int = 0) -> int: ...
    def end(self, group: int = 0) -> int: ...


class Pattern(Protocol):
    pattern: str

    def search(self, text: str) -> Match | None: ...
    def finditer(self, text: str) -> Any: ...
    def sub(self, repl: Any, text: str) -> str: ...


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the error is raised as GoRegexpError; RE2 would also print it to stderr
    return options


_OPTIONS = _options()


def regexp(pattern: str) -> Pattern:
    """``regexp.Compile(pattern)``: RE2 syntax and semantics; raises :data:`GoRegexpError` (its message is
    RE2's, e.g. ``invalid perl operator: (?=``) where Go's ``regexp`` would refuse the pattern."""
    compiled: Pattern = re2.compile(pattern, options=_OPTIONS)
    return compiled


def regexp_error(exc: BaseException) -> str:
    """RE2's message as text (the wrapper gives it as bytes)."""
    arg = exc.args[0] if exc.args else exc
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


def trunc(count: int, text: str) -> str:
    """sprig's ``trunc``: the first ``count`` bytes (the last ``-count`` when negative)."""
    raw = text.encode()
    if count < 0 and len(raw) + count > 0:
        return raw[len(raw) + count :].decode("utf-8", "replace")
    if count >= 0 and len(raw) > count:
        return raw[:count].decode("utf-8", "replace")
    return text


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def quote(text: str) -> str:
    """Go's ``strconv.Quote`` (``%q``, sprig's ``quote``)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable() and ch != " ":
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def unquote(body: str) -> str:
    """The text of a Go interpreted string literal ``"body"`` (``strconv.Unquote`` without the quotes).

    ``\\xHH`` and ``\\ooo`` are single bytes, ``\\uHHHH`` / ``\\UHHHHHHHH`` code points, everything else
    the character itself in UTF-8; an invalid escape raises ``ValueError`` (Go: a parse error)."""
    out, i = bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        kind = body[i + 1 : i + 2]
        if kind in _SIMPLE:
            out.append(_SIMPLE[kind])
            i += 2
        elif kind in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(f"invalid escape \\{kind}{digits} in a string literal")
            value = int(digits, 16)
            out += bytes([value]) if kind == "x" else chr(value).encode()
            i += 2 + width
        elif kind and kind in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError(f"invalid octal escape \\{digits} in a string literal")
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{kind} in a string literal")
    return out.decode("utf-8", "replace")
