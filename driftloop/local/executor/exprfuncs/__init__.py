"""The functions an Argo expression can call: expr-lang's builtins, Argo's own and a subset of sprig.

Argo's environment (``util/expr/env/env.go``) is expr-lang's builtins plus ``asInt`` / ``asFloat``
(expr-lang's ``int`` / ``float``), ``jsonpath``, ``toJson`` and ``sprig`` (sprig v3's generic function
map without ``env`` / ``expandenv``). Every sprig name is present; the ones not implemented here
raise an error naming the function (never a guessed value). Sprig's argument order is its template
order: ``sprig.trimSuffix("-", s)``, ``sprig.replace("old", "new", s)``, ``sprig.join(",", list)``.

Implemented sprig functions (see :data:`SPRIG_IMPLEMENTED`): strings (trim, upper, lower, title,
untitle, substr, repeat, trimAll, trimPrefix, trimSuffix, nospace, contains, hasPrefix, hasSuffix,
quote, squote, cat, indent, nindent, replace, plural, trunc, abbrev, toString), hashes and encodings
(sha1sum, sha256sum, sha512sum, adler32sum, b64enc, b64dec, b32enc, b32dec), numbers (atoi, int, int64,
float64, toDecimal, add, add1, sub, mul, div, mod, max, biggest, min, maxf, minf, floor, ceil, round,
addf, add1f, subf, mulf, divf, until, untilStep, seq), lists (split, splitList, splitn, toStrings, join,
sortAlpha, list, tuple, first, rest, last, initial, reverse, uniq, compact, append, push, prepend,
concat, has, without), dicts (dict, get, set, unset, hasKey, keys, values, pick, omit, pluck, dig),
defaults and JSON (default, empty, coalesce, all, any, ternary, fromJson, mustFromJson, toJson,
mustToJson, toPrettyJson, toRawJson), regular expressions (regexMatch, regexFind, regexFindAll,
regexReplaceAll, regexReplaceAllLiteral, regexSplit, regexQuoteMeta and their ``must`` forms), paths
(base, dir, clean, ext, isAbs), reflection (typeOf, kindOf, kindIs, typeIs, deepEqual), fail, uuidv4,
hello, and date formatting with Go layouts (date, dateInZone, date_in_zone, htmlDate, htmlDateInZone:
an int is Unix seconds, any other value — a string too — is now, as in sprig; ``Local`` is this
machine's zone). Not implemented (an error names them): the other date functions (now, toDate,
dateModify, duration, ago...), crypto and certificates, semver, random strings, network and URL
functions, the case-changing helpers (snakecase, camelcase, kebabcase, swapcase, wrap...) and the
``must*`` list helpers.

expr-lang builtins implemented (see :data:`BUILTINS` and the predicate builtins in :mod:`.exprlang`):
len, type, abs, ceil, floor, round, int, float, string, trim, trimPrefix, trimSuffix, upper, lower,
split, splitAfter, replace, repeat, join, indexOf, lastIndexOf, hasPrefix, hasSuffix, max, min, mean,
median, toJSON, fromJSON, toBase64, fromBase64, first, last, get, take, keys, values, toPairs,
fromPairs, reverse, uniq, concat, flatten, sort, bitand, bitor, bitxor, bitnand, bitnot, bitshl,
bitshr, bitushr. Not implemented (an error names them): now, duration, date, timezone.

Regular expressions are Go RE2 in Argo and Python ``re`` here; the common syntax is the same.
"""

from driftloop.local.executor.exprfuncs.argo import argo_functions
from driftloop.local.executor.exprfuncs.builtins import BUILTIN_RETURNS, BUILTINS, UNSUPPORTED_BUILTINS
from driftloop.local.executor.exprfuncs.numbers import builtin_float, builtin_int
from driftloop.local.executor.exprfuncs.regexes import go_regex
from driftloop.local.executor.exprfuncs.sequences import sort_values
from driftloop.local.executor.exprfuncs.sprig import SPRIG_IMPLEMENTED

__all__ = [
    "BUILTINS",
    "BUILTIN_RETURNS",
    "SPRIG_IMPLEMENTED",
    "UNSUPPORTED_BUILTINS",
    "argo_functions",
    "builtin_float",
    "builtin_int",
    "go_regex",
    "sort_values",
]
