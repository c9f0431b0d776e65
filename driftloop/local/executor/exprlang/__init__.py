"""An expr-lang (github.com/expr-lang/expr v1.17) parser, checker and interpreter, for Argo expressions.

Argo evaluates ``{{=...}}`` tags, ``valueFrom.expression``, ``retryStrategy.expression`` and hook
expressions with expr-lang over an environment of nested maps (``inputs.parameters.x`` is
``inputs["parameters"]["x"]``) plus its functions (:mod:`.exprfuncs`). This module follows expr-lang's
grammar and semantics; it is hand-written (nothing reaches Python's ``eval``):

* literals: ``nil``, ``true``/``false``, integers (``42``, ``0x2A``, ``0o52``, ``0b101010``, ``1_000``),
  floats (``0.5``, ``.5``, ``1e3``), strings (``'...'``, ``"..."`` with Go escapes, raw ```...```),
  arrays ``[1, 'a']`` and maps ``{a: 1, 'b-c': 2, (k): v}``; comments ``//`` and ``/* */``;
* operators by precedence (loosest first): ``|`` (pipe), ``or ||``, ``and &&``,
  ``== != < > <= >= in matches contains startsWith endsWith`` (and ``not in``, ``not matches``...;
  ``a < b < c`` chains), ``..`` (range), ``+ -``, ``* / %``, unary ``not ! - +``, ``** ^``, ``??``;
  then ``c ? a : b`` (and ``c ?: b``), ``if c {a} else {b}``, ``let x = v; expr``, ``a; b``;
* member access ``a.b``, ``a['b-c']``, ``a[0]``, ``a[-1]``, optional ``a?.b`` / ``a?.[k]``, slices
  ``a[1:3]``, calls ``f(x)``, ``sprig.trim(x)``, predicates ``filter(xs, {# > 1})``, ``map(xs, .name)``
  with ``#``, ``#index``, ``#acc``.

Semantics follow expr-lang: a missing key of a map is ``nil``; fetching from ``nil`` is an error
(``a?.b`` is not); ``==`` compares numbers by value, other types must match (``'1' == 1`` is false);
``<`` / ``+`` / ``-`` ... need matching types (``'a' + 1`` is an error); ``/`` gives a float, ``%``
needs integers; ``&&`` / ``||`` / ``!`` / ``?:`` need booleans. The static checker rejects, before
running, what expr-lang's checker rejects: an unknown top-level name, an operator on values whose types
are known to mismatch (``'a' == 1``, ``retries > 1`` when ``retries`` is a string), a non-boolean
condition. Unsupported features (dates and durations, bytes literals, ``::`` calls) raise an error that
names them.
"""

from driftloop.local.executor.exprlang.env import argo_env, missing_identifiers
from driftloop.local.executor.exprlang.program import Program, compile_expr, run

__all__ = [
    "Program",
    "argo_env",
    "compile_expr",
    "missing_identifiers",
    "run",
]
