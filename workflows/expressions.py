"""The portable condition language of Motcua's BPMN files, parsed and evaluated without ``eval``.

A sequence-flow condition is a JUEL expression as Operaton reads it, restricted to a subset that the
embedded engine evaluates identically (DESIGN §4, "Portable BPMN rules")::

    ${decision == 'approve'}
    ${amount >= 3 and not late}
    ${a == "x" || b != 2}

Grammar (JUEL precedence, loosest first)::

    condition  := "${" or "}"
    or         := and   (("or"  | "||") and)*
    and        := eq    (("and" | "&&") eq)*
    eq         := rel   (("==" | "!=") rel)*
    rel        := unary (("<" | ">" | "<=" | ">=") unary)*
    unary      := ("not" | "!") unary | primary
    primary    := IDENT | NUMBER | "-" NUMBER | STRING | "true" | "false" | "(" or ")"

Nothing else is accepted: no property access, calls, arithmetic, ``empty``, ``null`` or the JUEL word
operators ``eq``/``lt``/…; such text raises :class:`ConditionError` at parse time, so the BPMN lint
(``workflows.lint``) rejects it before a process is deployed.

Evaluation is strict where JUEL would coerce, so a process never silently takes a different branch on one
engine than on the other: ``and``/``or``/``not`` need booleans, ``<``/``>``/… need two numbers or two
strings, ``==``/``!=`` need two values of the same kind (or a ``None``), and a variable missing from the
mapping is an error naming it (Operaton fails the same way on an unknown identifier).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "And",
    "Compare",
    "ConditionError",
    "Const",
    "Expr",
    "Not",
    "Or",
    "UnknownVariableError",
    "Var",
    "evaluate",
    "evaluate_condition",
    "parse_condition",
    "variables_of",
]


class ConditionError(ValueError):
    """A condition that is not in the portable grammar, or that cannot be evaluated."""


class UnknownVariableError(ConditionError):
    """The condition names a variable that the process instance does not have."""

    def __init__(self, name: str, text: str | None = None) -> None:
        self.name = name
        where = f" in condition {text}" if text else ""
        super().__init__(f"unknown variable {name!r}{where}")


CompareOp: TypeAlias = Literal["==", "!=", "<", ">", "<=", ">="]


@dataclass(frozen=True, slots=True)
class Const:
    value: bool | int | float | str


@dataclass(frozen=True, slots=True)
class Var:
    name: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Expr
    right: Expr


Expr: TypeAlias = Const | Var | Not | And | Or | Compare


def variables_of(expr: Expr) -> frozenset[str]:
    """The variable names an expression reads (whether or not evaluation would reach them)."""
    match expr:
        case Var(name):
            return frozenset({name})
        case Const():
            return frozenset()
        case Not(operand):
            return variables_of(operand)
        case And(left, right) | Or(left, right) | Compare(_, left, right):
            return variables_of(left) | variables_of(right)
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover


# ---------------------------------------------------------------------------------------------- tokens

_KEYWORDS = {"and": "and", "or": "or", "not": "not", "true": "true", "false": "false"}
# JUEL reserved words that are outside the portable subset: refuse them rather than read a variable.
_RESERVED = frozenset({"null", "empty", "div", "mod", "instanceof", "eq", "ne", "lt", "gt", "le", "ge", "function"})
_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "-")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "ident", "number", "string", "end", an operator, or a keyword
    text: str
    pos: int
    value: Any = None


def _tokenize(src: str, start: int, n: int) -> list[_Token]:
    """Tokens of ``src[start:n]``; positions are offsets into ``src`` (the whole ``${…}`` text)."""
    text = src
    tokens: list[_Token] = []
    i = start
    while i < n:
        ch = src[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "'\"":
            value, end = _read_string(src, i, n)
            tokens.append(_Token("string", src[i:end], i, value))
            i = end
            continue
        if ch in "0123456789":
            m = _NUMBER.match(src, i, n)
            assert m is not None
            lexeme = m.group()
            if _IDENT.match(src, m.end(), n):
                raise ConditionError(f"malformed number {src[i : m.end() + 1]!r} in condition {text}")
            number: int | float = float(lexeme) if any(c in lexeme for c in ".eE") else int(lexeme)
            tokens.append(_Token("number", lexeme, i, number))
            i = m.end()
            continue
        m = _IDENT.match(src, i, n)
        if m:
            word = m.group()
            if word in _KEYWORDS:
                tokens.append(_Token(_KEYWORDS[word], word, i))
            elif word in _RESERVED:
                raise ConditionError(f"{word!r} is not allowed in a portable condition: {text}")
            else:
                tokens.append(_Token("ident", word, i))
            i = m.end()
            continue
        for op in _OPERATORS:
            if src.startswith(op, i, n):
                tokens.append(_Token(op, op, i))
                i += len(op)
                break
        else:
            raise ConditionError(f"unexpected character {ch!r} at position {i} in condition {text}")
    tokens.append(_Token("end", "", n))
    return tokens


def _read_string(src: str, start: int, n: int) -> tuple[str, int]:
    text = src
    quote = src[start]
    out: list[str] = []
    i = start + 1
    while i < n:
        ch = src[i]
        if ch == "\\":
            if i + 1 < n and src[i + 1] in "'\"\\":
                out.append(src[i + 1])
                i += 2
                continue
            raise ConditionError(f"unsupported escape in string literal at position {i} in condition {text}")
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise ConditionError(f"unterminated string literal at position {start} in condition {text}")


# ---------------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text, 2, len(text) - 1)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, expected: str) -> ConditionError:
        tok = self.tok
        found = "end of expression" if tok.kind == "end" else repr(tok.text)
        return ConditionError(f"expected {expected}, found {found} at position {tok.pos} in condition {self.text}")

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise ConditionError(f"empty condition {self.text}")
        expr = self.or_()
        if self.tok.kind != "end":
            raise self.error("an operator or the end of the expression")
        return expr

    def or_(self) -> Expr:
        left = self.and_()
        while self.tok.kind in ("or", "||"):
            self.take()
            left = Or(left, self.and_())
        return left

    def and_(self) -> Expr:
        left = self.eq()
        while self.tok.kind in ("and", "&&"):
            self.take()
            left = And(left, self.eq())
        return left

    def eq(self) -> Expr:
        left = self.rel()
        while self.tok.kind in ("==", "!="):
            op: CompareOp = "==" if self.take().kind == "==" else "!="
            left = Compare(op, left, self.rel())
        return left

    def rel(self) -> Expr:
        left = self.unary()
        while self.tok.kind in ("<", ">", "<=", ">="):
            kind = self.take().kind
            op: CompareOp = "<" if kind == "<" else ">" if kind == ">" else "<=" if kind == "<=" else ">="
            left = Compare(op, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.tok.kind in ("not", "!"):
            self.take()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "ident":
            self.take()
            if self.tok.kind == "(":
                raise ConditionError(f"function call {tok.text}(…) is not allowed in condition {self.text}")
            return Var(tok.text)
        if tok.kind in ("number", "string"):
            self.take()
            return Const(tok.value)
        if tok.kind == "-":
            self.take()
            if self.tok.kind != "number":
                raise self.error("a number after '-'")
            return Const(-self.take().value)
        if tok.kind in ("true", "false"):
            self.take()
            return Const(tok.kind == "true")
        if tok.kind == "(":
            self.take()
            inner = self.or_()
            if self.tok.kind != ")":
                raise self.error("')'")
            self.take()
            return inner
        raise self.error("a variable, a literal or '('")


@functools.lru_cache(maxsize=1024)
def parse_condition(text: str) -> Expr:
    """Parse ``${…}`` condition text into an immutable expression tree, or raise :class:`ConditionError`."""
    if not isinstance(text, str):
        raise ConditionError(f"a condition must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not (stripped.startswith("${") and stripped.endswith("}")):
        raise ConditionError(f"a condition must be written as ${{…}}: {text!r}")
    return _Parser(stripped).parse()


# ---------------------------------------------------------------------------------------------- evaluation

_Value: TypeAlias = bool | int | float | str | None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def evaluate(expr: Expr, variables: Mapping[str, Any], *, text: str | None = None) -> _Value:
    """Evaluate a parsed expression against process variables (``and``/``or`` short-circuit)."""
    match expr:
        case Const(value):
            return value
        case Var(name):
            try:
                value = variables[name]
            except KeyError:
                raise UnknownVariableError(name, text) from None
            if _kind(value) not in ("null", "boolean", "number", "string"):
                raise ConditionError(
                    f"variable {name!r} holds a {_kind(value)}, which a condition cannot compare"
                    + (f" (in {text})" if text else "")
                )
            checked: _Value = value
            return checked
        case Not(operand):
            return not _boolean(evaluate(operand, variables, text=text), "not", text)
        case And(left, right):
            if not _boolean(evaluate(left, variables, text=text), "and", text):
                return False
            return _boolean(evaluate(right, variables, text=text), "and", text)
        case Or(left, right):
            if _boolean(evaluate(left, variables, text=text), "or", text):
                return True
            return _boolean(evaluate(right, variables, text=text), "or", text)
        case Compare(op, left, right):
            lhs = evaluate(left, variables, text=text)
            return _compare(op, lhs, evaluate(right, variables, text=text), text)
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover


def _boolean(value: _Value, op: str, text: str | None) -> bool:
    if isinstance(value, bool):
        return value
    where = f" in condition {text}" if text else ""
    raise ConditionError(f"{op!r} needs a boolean, got {_kind(value)} {value!r}{where}")


def _compare(op: CompareOp, left: _Value, right: _Value, text: str | None) -> bool:
    lk, rk = _kind(left), _kind(right)
    where = f" in condition {text}" if text else ""
    if op in ("==", "!="):
        if lk != rk and "null" not in (lk, rk):
            raise ConditionError(f"cannot compare {lk} {left!r} {op} {rk} {right!r}{where}")
        return (left == right) if op == "==" else (left != right)
    if lk != rk or lk not in ("number", "string"):
        raise ConditionError(f"cannot order {lk} {left!r} {op} {rk} {right!r}{where}")
    a: Any = left
    b: Any = right
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def evaluate_condition(text: str, variables: Mapping[str, Any]) -> bool:
    """Parse (cached) and evaluate a ``${…}`` condition; the result must be a boolean."""
    result = evaluate(parse_condition(text), variables, text=text.strip())
    if not isinstance(result, bool):
        raise ConditionError(f"condition {text.strip()} gave {_kind(result)} {result!r}, not a boolean")
    return result
