"""expr-lang's lexer (``parser/lexer``): tokens, with positions for error messages."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from driftloop.local.executor.exprvalues import (
    ExprError,
)


@dataclass(frozen=True)
class Token:
    kind: str  # ident | number | string | op | bracket | eof
    value: str
    pos: int

    def __str__(self) -> str:
        names = {"ident": "Identifier", "number": "Number", "string": "String", "op": "Operator"}
        if self.kind == "eof":
            return "EOF"
        kind = names.get(self.kind, "Bracket")
        return f'{kind}("{self.value}")'


_WORD_OPS = {"in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let", "if", "else"}
NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}


def _is_alpha(ch: str) -> bool:
    return ch == "_" or ch == "$" or ch.isalpha()


def _is_alnum(ch: str) -> bool:
    return _is_alpha(ch) or unicodedata.category(ch) == "Nd"


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.tokens: list[Token] = []

    def error(self, message: str, pos: int | None = None) -> ExprError:
        return ExprError(f"{message} {location(self.text, self.i if pos is None else pos)}")

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.text[j] if j < len(self.text) else ""

    def emit(self, kind: str, value: str, start: int) -> None:
        self.tokens.append(Token(kind, value, start))

    def lex(self) -> list[Token]:
        text = self.text
        while self.i < len(text):
            start = self.i
            ch = text[self.i]
            if ch.isspace():
                self.i += 1
            elif ch in "'\"":
                self.emit("string", self.string(ch), start)
            elif ch == "`":
                self.emit("string", self.raw_string(), start)
            elif ch in "bB" and self.peek(1) in ("'", '"'):
                raise self.error("bytes literals (b'...') are not supported by the local executor")
            elif ch.isdigit() or (ch == "." and self.peek(1).isdigit()):
                self.emit("number", self.number(), start)
            elif ch == "?":
                self.i += 1
                if self.peek() in (".", "?"):
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif ch == "/" and self.peek(1) == "/":
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end + 1
            elif ch == "/" and self.peek(1) == "*":
                end = text.find("*/", self.i + 2)
                if end < 0:
                    raise self.error("unclosed comment")
                self.i = end + 2
            elif ch == "#":
                self.i += 1
                self.emit("op", "#", start)
                j = self.i
                while self.i < len(text) and _is_alnum(text[self.i]):
                    self.i += 1
                if self.i > j:
                    self.emit("ident", text[j : self.i], j)
            elif ch in "|:":
                self.i += 1
                if self.peek() == ch:
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif ch in "([{)]}":
                self.i += 1
                self.emit("bracket", ch, start)
            elif ch in ",;%+-^/":
                self.i += 1
                self.emit("op", ch, start)
            elif ch in "&!=*<>":
                self.i += 1
                if self.peek() in ("&", "=", "*"):
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif ch == ".":
                self.i += 1
                if self.peek() == ".":
                    self.i += 1
                self.emit("op", text[start : self.i], start)
            elif _is_alpha(ch):
                self.word(start)
            else:
                raise self.error(f"unrecognized character: U+{ord(ch):04X} {ch!r}")
        self.emit("eof", "", len(text))
        return self.tokens

    def word(self, start: int) -> None:
        while self.i < len(self.text) and _is_alnum(self.text[self.i]):
            self.i += 1
        word = self.text[start : self.i]
        if word == "not":
            self.emit("op", "not", start)
            j = self.i
            while j < len(self.text) and self.text[j] == " ":
                j += 1
            k = j
            while k < len(self.text) and _is_alnum(self.text[k]):
                k += 1
            if self.text[j:k] in NEGATABLE:
                self.emit("op", self.text[j:k], j)
                self.i = k
        elif word in _WORD_OPS:
            self.emit("op", word, start)
        else:
            self.emit("ident", word, start)

    def number(self) -> str:
        text, start = self.text, self.i
        digits = "0123456789_"
        if self.peek() == "0" and self.peek(1) in ("x", "X", "o", "O", "b", "B") and self.peek(1) != "":
            base = self.peek(1).lower()
            self.i += 2
            digits = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[base]
        while self.peek() and self.peek() in digits:
            self.i += 1
        if self.peek() == ".":
            if self.peek(1) == ".":
                return text[start : self.i]
            self.i += 1
            while self.peek() and self.peek() in digits:
                self.i += 1
        if self.peek() in ("e", "E") and self.peek():
            self.i += 1
            if self.peek() in ("+", "-") and self.peek():
                self.i += 1
            while self.peek() and self.peek() in digits:
                self.i += 1
        if self.peek() and _is_alnum(self.peek()):
            self.i += 1
            raise self.error(f"bad number syntax: {text[start : self.i]!r}", start)
        return text[start : self.i]

    def string(self, quote: str) -> str:
        text = self.text
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(text) or text[self.i] == "\n":
                raise self.error("literal not terminated")
            ch = text[self.i]
            if ch == quote:
                self.i += 1
                return "".join(out)
            if ch != "\\":
                out.append(ch)
                self.i += 1
                continue
            self.i += 1
            esc = self.peek()
            simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
            if esc in simple:
                out.append(simple[esc])
                self.i += 1
            elif esc == quote:
                out.append(quote)
                self.i += 1
            elif esc and esc in "01234567":
                out.append(chr(self.hex_digits(3, 8)))
            elif esc == "x":
                self.i += 1
                out.append(chr(self.hex_digits(2, 16)))
            elif esc == "u" and self.peek(1) == "{":
                end = text.find("}", self.i)
                body = text[self.i + 2 : end] if end > 0 else ""
                if not re.fullmatch(r"[0-9a-fA-F]{1,6}", body):
                    raise self.error("invalid char escape")
                out.append(chr(int(body, 16)))
                self.i = end + 1
            elif esc == "u":
                self.i += 1
                out.append(chr(self.hex_digits(4, 16)))
            elif esc == "U":
                self.i += 1
                out.append(chr(self.hex_digits(8, 16)))
            else:
                raise self.error("invalid char escape")

    def hex_digits(self, n: int, base: int) -> int:
        chunk = self.text[self.i : self.i + n]
        valid = "01234567" if base == 8 else "0123456789abcdefABCDEF"
        if len(chunk) != n or any(c not in valid for c in chunk):
            raise self.error("invalid char escape")
        self.i += n
        value = int(chunk, base)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self.error("invalid char escape")
        return value

    def raw_string(self) -> str:
        text = self.text
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(text):
                raise self.error("literal not terminated")
            ch = text[self.i]
            if ch == "`":
                if self.peek(1) == "`":
                    out.append("`")
                    self.i += 2
                    continue
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1


def location(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1)
    return f"({line}:{col + 1})"
