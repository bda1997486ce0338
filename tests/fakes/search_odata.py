"""The OData ``$filter`` subset of the fake Azure AI Search service, compiled to a predicate over stored documents.

Supported, with the service's rules: comparisons ``eq ne gt ge lt le`` between a field (or a lambda variable) and a
literal (``'text'`` with ``''`` for a quote, integers, decimals, ``true``, ``false``, ``null``, ISO 8601 date-times),
``and``, ``or``, ``not``, parentheses, ``search.in(field, 'a,b', ',')`` (default delimiters: space and comma), and
``collection/any(x: ...)``, ``collection/any()``, ``collection/all(x: ...)`` on ``Collection(...)`` fields.

Like the service, a filter naming an unknown field, or a field that is not ``filterable``, or comparing a collection
directly, is a 400 (``FilterError``); so is any syntax error. Comparisons with ``null`` are false except ``eq``/``ne``.

Comparisons are type-checked when the filter is parsed, as the service does: one side is a field or lambda variable,
the other a literal (field-to-field and literal-to-literal comparisons are 400), and their types must agree
(``Edm.String`` with a string literal, the numeric types with a number, ``Edm.Boolean`` with ``true``/``false``,
``Edm.DateTimeOffset`` with a date-time; ``null`` with any); a mismatch such as ``ordinal eq '0'`` is a 400 ("A
binary operator with incompatible types was detected"), never a comparison that is silently false. The ordering
operators (``gt ge lt le``) do not apply to ``Edm.Boolean``; ``search.in`` applies to strings only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
"""``predicate(document, lambda_variables) -> bool``."""

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*(?:/(?:any|all))?)
      | (?P<punct>[(),:])
    )""",
    re.VERBOSE,
)
_COMPARISONS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
_KEYWORDS = {"and", "or", "not", "true", "false", "null", *_COMPARISONS}
_NUMERIC = frozenset({"Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Single"})
_OPERATOR_KINDS = {
    "eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan",
    "le": "LessThanOrEqual",
}  # fmt: skip

Getter = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]


class FilterError(ValueError):
    """The filter is invalid; the message is what the service would say."""


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    """Item type (``Edm.String``, ``Edm.Int32``...); ``collection`` says whether it is a ``Collection(...)``."""
    collection: bool = False
    filterable: bool = False


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise FilterError(f"Invalid expression: Syntax error at position {position} in '{text}'.")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def compile_filter(text: str, fields: Mapping[str, FieldInfo]) -> Predicate:
    """Parse ``text`` against the index's ``fields``; raise FilterError (a 400) for anything the service refuses."""
    parser = _Parser(_tokenize(text), fields, text)
    predicate = parser.expression(frozenset())
    if parser.peek() is not None:
        raise FilterError(f"Invalid expression: Syntax error at '{parser.peek().text}' in '{text}'.")  # type: ignore[union-attr]
    return predicate


class _Parser:
    def __init__(self, tokens: list[_Token], fields: Mapping[str, FieldInfo], source: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.fields = fields
        self.source = source
        self.variable_types: dict[str, str] = {}
        """Lambda variable -> the item type of the collection it ranges over."""

    # -- token helpers -------------------------------------------------------------------------------------------------
    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text):
            expected = f"'{text}'" if text else "more input"
            raise FilterError(f"Invalid expression: expected {expected} in '{self.source}'.")
        self.position += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text == word

    # -- grammar -------------------------------------------------------------------------------------------------------
    def expression(self, variables: frozenset[str]) -> Predicate:
        left = self.conjunction(variables)
        while self.at_keyword("or"):
            self.take()
            right = self.conjunction(variables)
            left = _either(left, right)
        return left

    def conjunction(self, variables: frozenset[str]) -> Predicate:
        left = self.unary(variables)
        while self.at_keyword("and"):
            self.take()
            right = self.unary(variables)
            left = _both(left, right)
        return left

    def unary(self, variables: frozenset[str]) -> Predicate:
        if self.at_keyword("not"):
            self.take()
            inner = self.unary(variables)
            return lambda doc, env: not inner(doc, env)
        token = self.peek()
        if token is not None and token.text == "(":
            self.take("(")
            inner = self.expression(variables)
            self.take(")")
            return inner
        if token is not None and token.text == "search.in":
            return self.search_in(variables)
        if token is not None and token.kind == "name" and token.text.endswith(("/any", "/all")):
            return self.lambda_call(variables)
        if token is not None and token.kind == "name" and token.text in ("true", "false"):
            self.take()
            value = token.text == "true"
            return lambda doc, env: value
        return self.comparison(variables)

    def comparison(self, variables: frozenset[str]) -> Predicate:
        left, left_type, left_is_field = self.operand(variables)
        operator = self.take()
        if operator.text not in _COMPARISONS:
            raise FilterError(f"Invalid expression: expected a comparison operator, found '{operator.text}'.")
        right, right_type, right_is_field = self.operand(variables)
        op = operator.text
        if left_is_field == right_is_field:
            raise FilterError(
                "Invalid expression: Comparison must be between a field (or range variable) and a constant "
                f"in '{self.source}'."
            )
        _check_types(left_type, right_type, op)
        compare = _COMPARISONS[op]

        def predicate(doc: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
            a, b = left(doc, env), right(doc, env)
            if a is None or b is None:
                return (a is None and b is None) if op == "eq" else (op == "ne" and (a is None) != (b is None))
            return bool(compare(a, b))

        return predicate

    def operand(self, variables: frozenset[str]) -> tuple[Getter, str | None, bool]:
        """``(getter, Edm type or None for null, is a field or variable)``."""
        token = self.take()
        if token.kind == "string":
            value: Any = token.text[1:-1].replace("''", "'")
            return (lambda doc, env: value), "Edm.String", False
        if token.kind == "number":
            is_decimal = bool(re.search(r"[.eE]", token.text))
            number = float(token.text) if is_decimal else int(token.text)
            return (lambda doc, env: number), "Edm.Double" if is_decimal else "Edm.Int64", False
        if token.kind == "datetime":
            moment = datetime.fromisoformat(token.text.replace("Z", "+00:00"))
            return (lambda doc, env: moment), "Edm.DateTimeOffset", False
        if token.kind == "name" and token.text in ("null", "true", "false"):
            constant = {"null": None, "true": True, "false": False}[token.text]
            return (lambda doc, env: constant), None if constant is None else "Edm.Boolean", False
        if token.kind == "name" and token.text in variables:
            name = token.text
            return (lambda doc, env: env.get(name)), self.variable_types.get(name), True
        if token.kind == "name" and token.text not in _KEYWORDS:
            field = self.field(token.text, collection=False)
            return (lambda doc, env: _comparable(field, doc.get(field.name))), field.type, True
        raise FilterError(f"Invalid expression: unexpected '{token.text}' in '{self.source}'.")

    def field(self, name: str, *, collection: bool) -> FieldInfo:
        info = self.fields.get(name)
        if info is None:
            raise FilterError(
                f"Invalid expression: Could not find a property named '{name}' on type 'search.document'."
            )
        if not info.filterable:
            raise FilterError(
                f"Invalid expression: '{name}' is not a filterable field. "
                "Only filterable fields can be used in filter expressions."
            )
        if info.collection != collection:
            kind = "a collection" if info.collection else "not a collection"
            raise FilterError(f"Invalid expression: '{name}' is {kind}; use any()/all() on collections only.")
        return info

    def search_in(self, variables: frozenset[str]) -> Predicate:
        self.take("search.in")
        self.take("(")
        target = self.take()
        if target.text in variables:
            name = target.text
            get: Callable[[Mapping[str, Any], Mapping[str, Any]], Any] = lambda doc, env: env.get(name)  # noqa: E731
        else:
            field = self.field(target.text, collection=False)
            get = lambda doc, env: doc.get(field.name)  # noqa: E731
        target_type = self.variable_types.get(target.text) if target.text in variables else field.type
        if target_type != "Edm.String":
            raise FilterError(
                f"Invalid expression: search.in applies to string fields only; '{target.text}' is {target_type}."
            )
        self.take(",")
        values_token = self.take()
        if values_token.kind != "string":
            raise FilterError("Invalid expression: search.in expects a string of values.")
        delimiters = " ,"
        if self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
            self.take(",")
            delimiter_token = self.take()
            if delimiter_token.kind != "string":
                raise FilterError("Invalid expression: search.in expects a string of delimiters.")
            delimiters = delimiter_token.text[1:-1].replace("''", "'")
        self.take(")")
        raw = values_token.text[1:-1].replace("''", "'")
        pattern = "[" + re.escape(delimiters) + "]"
        values = {part for part in re.split(pattern, raw) if part}
        return lambda doc, env: get(doc, env) in values

    def lambda_call(self, variables: frozenset[str]) -> Predicate:
        token = self.take()
        name, kind = token.text.rsplit("/", 1)
        field = self.field(name, collection=True)
        self.take("(")
        if self.peek() is not None and self.peek().text == ")":  # type: ignore[union-attr]
            self.take(")")
            if kind == "all":
                raise FilterError("Invalid expression: all() needs a lambda expression.")
            return lambda doc, env: bool(doc.get(field.name))
        variable = self.take()
        if variable.kind != "name" or variable.text in _KEYWORDS:
            raise FilterError(f"Invalid expression: expected a lambda variable in '{self.source}'.")
        self.take(":")
        self.variable_types[variable.text] = field.type
        body = self.expression(variables | {variable.text})
        self.take(")")
        var = variable.text
        quantifier = any if kind == "any" else all

        def predicate(doc: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
            items = doc.get(field.name) or []
            return quantifier(body(doc, {**env, var: item}) for item in items)

        return predicate


def _check_types(left: str | None, right: str | None, op: str) -> None:
    """400 unless the two sides of ``op`` have compatible types (``None``: the ``null`` literal, any type)."""
    if left is None or right is None:
        return
    compatible = left == right or (left in _NUMERIC and right in _NUMERIC)
    if compatible and not (op not in ("eq", "ne") and left == "Edm.Boolean"):
        return
    raise FilterError(
        "Invalid expression: A binary operator with incompatible types was detected. Found operand types "
        f"'{left}' and '{right}' for operator kind '{_OPERATOR_KINDS[op]}'."
    )


def _comparable(field: FieldInfo, value: Any) -> Any:
    if field.type == "Edm.DateTimeOffset" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda doc, env: left(doc, env) or right(doc, env)


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda doc, env: left(doc, env) and right(doc, env)
