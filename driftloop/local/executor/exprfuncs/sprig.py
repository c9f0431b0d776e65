"""The sprig function map (sprig v3, as Argo imports it): implemented and not-implemented names."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import uuid
import zlib
from collections.abc import Callable
from typing import Any

from driftloop.local.executor.exprfuncs.regexes import (
    go_regex,
    sprig_must_regex_match,
    sprig_regex_find_all,
    sprig_regex_match,
    sprig_regex_replace,
    sprig_regex_split,
)
from driftloop.local.executor.exprfuncs.sequences import go_kind
from driftloop.local.executor.exprfuncs.sprig_collections import (
    need_map,
    sprig_concat,
    sprig_default,
    sprig_dict,
    sprig_dig,
    sprig_empty,
    sprig_fail,
    sprig_first,
    sprig_from_json_lenient,
    sprig_has,
    sprig_initial,
    sprig_keys,
    sprig_kind_of,
    sprig_last,
    sprig_list_arg,
    sprig_rest,
    sprig_set,
    sprig_slice,
    sprig_sort_alpha,
    sprig_split_map,
    sprig_strslice,
    sprig_to_json_lenient,
    sprig_uniq,
    sprig_unset,
    sprig_without,
)
from driftloop.local.executor.exprfuncs.sprig_dates import sprig_date_in_zone
from driftloop.local.executor.exprfuncs.sprig_numbers import (
    cast_float,
    cast_int,
    sprig_decimal_op,
    sprig_div,
    sprig_max,
    sprig_maxf,
    sprig_min,
    sprig_minf,
    sprig_mod,
    sprig_round,
    sprig_seq,
    sprig_to_decimal,
    sprig_until_step,
)
from driftloop.local.executor.exprfuncs.sprig_strings import (
    sprig_abbrev,
    sprig_b32dec,
    sprig_b64dec,
    sprig_indent,
    sprig_path_base,
    sprig_path_clean,
    sprig_path_dir,
    sprig_path_ext,
    sprig_quote,
    sprig_substr,
    sprig_title,
    sprig_trunc,
    sprig_untitle,
    strval,
)
from driftloop.local.executor.exprfuncs.strings import go_json_loads, go_replace, go_split
from driftloop.local.executor.exprvalues import (
    GoFunc,
    deep_equal,
    go_json,
    go_sprint,
    go_type,
    parse_go_int,
    wrap_int,
)


def _g(
    name: str,
    impl: Callable[..., Any],
    params: tuple[str, ...],
    variadic: bool = False,
) -> GoFunc:
    return GoFunc(f"sprig.{name}", impl, params, variadic)


_S, _I, _A, _B, _M = "string", "int", "any", "bool", "map"

_SPRIG: dict[str, GoFunc] = {
    # strings
    "trim": _g("trim", lambda s: s.strip(), (_S,)),
    "upper": _g("upper", lambda s: s.upper(), (_S,)),
    "lower": _g("lower", lambda s: s.lower(), (_S,)),
    "title": _g("title", sprig_title, (_S,)),
    "untitle": _g("untitle", sprig_untitle, (_S,)),
    "substr": _g("substr", sprig_substr, (_I, _I, _S)),
    "repeat": _g("repeat", lambda n, s: s * max(n, 0), (_I, _S)),
    "trimall": _g("trimall", lambda a, b: b.strip(a), (_S, _S)),
    "trimAll": _g("trimAll", lambda a, b: b.strip(a), (_S, _S)),
    "trimSuffix": _g("trimSuffix", lambda a, b: b[: -len(a)] if a and b.endswith(a) else b, (_S, _S)),
    "trimPrefix": _g("trimPrefix", lambda a, b: b[len(a) :] if b.startswith(a) else b, (_S, _S)),
    "nospace": _g("nospace", lambda s: "".join(s.split()), (_S,)),
    "contains": _g("contains", lambda sub, s: sub in s, (_S, _S)),
    "hasPrefix": _g("hasPrefix", lambda p, s: s.startswith(p), (_S, _S)),
    "hasSuffix": _g("hasSuffix", lambda p, s: s.endswith(p), (_S, _S)),
    "quote": _g("quote", sprig_quote, (_A,), variadic=True),
    "squote": _g("squote", lambda *v: " ".join(f"'{go_sprint(x)}'" for x in v if x is not None), (_A,), True),
    "cat": _g("cat", lambda *v: " ".join(go_sprint(x) for x in v if x is not None), (_A,), variadic=True),
    "indent": _g("indent", sprig_indent, (_I, _S)),
    "nindent": _g("nindent", lambda n, s: "\n" + sprig_indent(n, s), (_I, _S)),
    "replace": _g("replace", lambda old, new, src: go_replace(src, old, new), (_S, _S, _S)),
    "plural": _g("plural", lambda one, many, n: one if n == 1 else many, (_S, _S, _I)),
    "trunc": _g("trunc", sprig_trunc, (_I, _S)),
    "abbrev": _g("abbrev", sprig_abbrev, (_I, _S)),
    "toString": _g("toString", strval, (_A,)),
    "sha1sum": _g("sha1sum", lambda s: hashlib.sha1(s.encode()).hexdigest(), (_S,)),
    "sha256sum": _g("sha256sum", lambda s: hashlib.sha256(s.encode()).hexdigest(), (_S,)),
    "sha512sum": _g("sha512sum", lambda s: hashlib.sha512(s.encode()).hexdigest(), (_S,)),
    "adler32sum": _g("adler32sum", lambda s: str(zlib.adler32(s.encode())), (_S,)),
    "b64enc": _g("b64enc", lambda s: base64.b64encode(s.encode()).decode(), (_S,)),
    "b64dec": _g("b64dec", sprig_b64dec, (_S,)),
    "b32enc": _g("b32enc", lambda s: base64.b32encode(s.encode()).decode(), (_S,)),
    "b32dec": _g("b32dec", sprig_b32dec, (_S,)),
    # numbers
    "atoi": _g("atoi", lambda s: parse_go_int(s) or 0, (_S,)),
    "int64": _g("int64", cast_int, (_A,)),
    "int": _g("int", cast_int, (_A,)),
    "float64": _g("float64", cast_float, (_A,)),
    "toDecimal": _g("toDecimal", sprig_to_decimal, (_A,)),
    "add1": _g("add1", lambda i: wrap_int(cast_int(i) + 1), (_A,)),
    "add": _g("add", lambda *v: wrap_int(sum(cast_int(x) for x in v)), (_A,), variadic=True),
    "sub": _g("sub", lambda a, b: wrap_int(cast_int(a) - cast_int(b)), (_A, _A)),
    "div": _g("div", sprig_div, (_A, _A)),
    "mod": _g("mod", sprig_mod, (_A, _A)),
    "mul": _g(
        "mul", lambda a, *v: wrap_int(math.prod([cast_int(a), *(cast_int(x) for x in v)])), (_A, _A), True
    ),
    "add1f": _g("add1f", lambda i: sprig_decimal_op("+")(i, 1), (_A,)),
    "addf": _g("addf", lambda *v: sprig_decimal_op("+")(0.0, *v), (_A,), variadic=True),
    "subf": _g("subf", sprig_decimal_op("-"), (_A, _A), variadic=True),
    "divf": _g("divf", sprig_decimal_op("/"), (_A, _A), variadic=True),
    "mulf": _g("mulf", sprig_decimal_op("*"), (_A, _A), variadic=True),
    "biggest": _g("biggest", sprig_max, (_A, _A), variadic=True),
    "max": _g("max", sprig_max, (_A, _A), variadic=True),
    "min": _g("min", sprig_min, (_A, _A), variadic=True),
    "maxf": _g("maxf", sprig_maxf, (_A, _A), variadic=True),
    "minf": _g("minf", sprig_minf, (_A, _A), variadic=True),
    "ceil": _g("ceil", lambda a: float(math.ceil(cast_float(a))), (_A,)),
    "floor": _g("floor", lambda a: float(math.floor(cast_float(a))), (_A,)),
    "round": _g("round", sprig_round, (_A, _I, "float"), variadic=True),
    "until": _g("until", lambda n: sprig_until_step(0, n, -1 if n < 0 else 1), (_I,)),
    "untilStep": _g("untilStep", sprig_until_step, (_I, _I, _I)),
    "seq": _g("seq", sprig_seq, (_I,), variadic=True),
    # lists
    "split": _g("split", lambda sep, s: sprig_split_map(sep, s), (_S, _S)),
    "splitList": _g("splitList", lambda sep, s: go_split(s, sep), (_S, _S)),
    "splitn": _g("splitn", lambda sep, n, s: sprig_split_map(sep, s, n), (_S, _I, _S)),
    "toStrings": _g("toStrings", sprig_strslice, (_A,)),
    "join": _g("join", lambda sep, v: sep.join(sprig_strslice(v)), (_S, _A)),
    "sortAlpha": _g("sortAlpha", sprig_sort_alpha, (_A,)),
    "list": _g("list", lambda *v: list(v), (_A,), variadic=True),
    "tuple": _g("tuple", lambda *v: list(v), (_A,), variadic=True),
    "first": _g("first", sprig_first, (_A,)),
    "rest": _g("rest", sprig_rest, (_A,)),
    "last": _g("last", sprig_last, (_A,)),
    "initial": _g("initial", sprig_initial, (_A,)),
    "reverse": _g("reverse", lambda v: list(reversed(sprig_list_arg("find reverse", v))), (_A,)),
    "uniq": _g("uniq", sprig_uniq, (_A,)),
    "compact": _g(
        "compact", lambda v: [x for x in sprig_list_arg("compact", v) if not sprig_empty(x)], (_A,)
    ),
    "append": _g("append", lambda lst, v: [*sprig_list_arg("push", lst), v], (_A, _A)),
    "push": _g("push", lambda lst, v: [*sprig_list_arg("push", lst), v], (_A, _A)),
    "prepend": _g("prepend", lambda lst, v: [v, *sprig_list_arg("prepend", lst)], (_A, _A)),
    "concat": _g("concat", sprig_concat, (_A,), variadic=True),
    "has": _g("has", sprig_has, (_A, _A)),
    "without": _g("without", sprig_without, (_A, _A), variadic=True),
    "slice": _g("slice", sprig_slice, (_A, _A), variadic=True),
    # dicts
    "dict": _g("dict", sprig_dict, (_A,), variadic=True),
    "get": _g("get", lambda d, k: need_map(d).get(k, ""), (_M, _S)),
    "set": _g("set", sprig_set, (_M, _S, _A)),
    "unset": _g("unset", sprig_unset, (_M, _S)),
    "hasKey": _g("hasKey", lambda d, k: k in need_map(d), (_M, _S)),
    "keys": _g("keys", sprig_keys, (_M,), variadic=True),
    "values": _g("values", lambda d: list(need_map(d).values()), (_M,)),
    "pick": _g("pick", lambda d, *ks: {k: need_map(d)[k] for k in ks if k in need_map(d)}, (_M, _S), True),
    "omit": _g("omit", lambda d, *ks: {k: v for k, v in need_map(d).items() if k not in ks}, (_M, _S), True),
    "pluck": _g("pluck", lambda k, *ds: [need_map(d)[k] for d in ds if k in need_map(d)], (_S, _M), True),
    "dig": _g("dig", sprig_dig, (_A,), variadic=True),
    # defaults and JSON
    "default": _g("default", sprig_default, (_A, _A), variadic=True),
    "empty": _g("empty", sprig_empty, (_A,)),
    "coalesce": _g("coalesce", lambda *v: next((x for x in v if not sprig_empty(x)), None), (_A,), True),
    "all": _g("all", lambda *v: all(not sprig_empty(x) for x in v), (_A,), variadic=True),
    "any": _g("any", lambda *v: any(not sprig_empty(x) for x in v), (_A,), variadic=True),
    "ternary": _g("ternary", lambda vt, vf, v: vt if v else vf, (_A, _A, _B)),
    "fromJson": _g("fromJson", sprig_from_json_lenient, (_S,)),
    "mustFromJson": _g("mustFromJson", go_json_loads, (_S,)),
    "toJson": _g("toJson", sprig_to_json_lenient, (_A,)),
    "mustToJson": _g("mustToJson", go_json, (_A,)),
    "toPrettyJson": _g("toPrettyJson", lambda v: go_json(v, indent="  "), (_A,)),
    "mustToPrettyJson": _g("mustToPrettyJson", lambda v: go_json(v, indent="  "), (_A,)),
    "toRawJson": _g("toRawJson", lambda v: go_json(v, escape_html=False), (_A,)),
    "mustToRawJson": _g("mustToRawJson", lambda v: go_json(v, escape_html=False), (_A,)),
    # regular expressions
    "regexMatch": _g("regexMatch", sprig_regex_match, (_S, _S)),
    "mustRegexMatch": _g("mustRegexMatch", sprig_must_regex_match, (_S, _S)),
    "regexFindAll": _g("regexFindAll", sprig_regex_find_all, (_S, _S, _I)),
    "mustRegexFindAll": _g("mustRegexFindAll", sprig_regex_find_all, (_S, _S, _I)),
    "regexFind": _g("regexFind", lambda r, s: m.group(0) if (m := go_regex(r).search(s)) else "", (_S, _S)),
    "mustRegexFind": _g(
        "mustRegexFind", lambda r, s: m.group(0) if (m := go_regex(r).search(s)) else "", (_S, _S)
    ),
    "regexReplaceAll": _g("regexReplaceAll", sprig_regex_replace, (_S, _S, _S)),
    "mustRegexReplaceAll": _g("mustRegexReplaceAll", sprig_regex_replace, (_S, _S, _S)),
    "regexReplaceAllLiteral": _g(
        "regexReplaceAllLiteral", lambda r, s, repl: go_regex(r).sub(lambda _m: repl, s), (_S, _S, _S)
    ),
    "mustRegexReplaceAllLiteral": _g(
        "mustRegexReplaceAllLiteral", lambda r, s, repl: go_regex(r).sub(lambda _m: repl, s), (_S, _S, _S)
    ),
    "regexSplit": _g("regexSplit", sprig_regex_split, (_S, _S, _I)),
    "mustRegexSplit": _g("mustRegexSplit", sprig_regex_split, (_S, _S, _I)),
    "regexQuoteMeta": _g("regexQuoteMeta", lambda s: re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", s), (_S,)),
    # paths
    "base": _g("base", sprig_path_base, (_S,)),
    "dir": _g("dir", sprig_path_dir, (_S,)),
    "clean": _g("clean", sprig_path_clean, (_S,)),
    "ext": _g("ext", sprig_path_ext, (_S,)),
    "isAbs": _g("isAbs", lambda p: p.startswith("/"), (_S,)),
    # reflection, flow control, uuids
    "typeOf": _g("typeOf", go_type, (_A,)),
    "kindOf": _g("kindOf", sprig_kind_of, (_A,)),
    "kindIs": _g("kindIs", lambda target, v: go_kind(v) == target, (_S, _A)),
    "typeIs": _g("typeIs", lambda target, v: go_type(v) == target, (_S, _A)),
    "deepEqual": _g("deepEqual", deep_equal, (_A, _A)),
    "fail": _g("fail", sprig_fail, (_S,)),
    "uuidv4": _g("uuidv4", lambda: str(uuid.uuid4()), ()),
    "hello": _g("hello", lambda: "Hello!", ()),
    # dates (from an int of Unix seconds; any other value means now, as in sprig)
    "date": _g("date", lambda layout, d: sprig_date_in_zone(layout, d, "Local"), (_S, _A)),
    "dateInZone": _g("dateInZone", sprig_date_in_zone, (_S, _A, _S)),
    "date_in_zone": _g("date_in_zone", sprig_date_in_zone, (_S, _A, _S)),
    "htmlDate": _g("htmlDate", lambda d: sprig_date_in_zone("2006-01-02", d, "Local"), (_A,)),
    "htmlDateInZone": _g("htmlDateInZone", lambda d, z: sprig_date_in_zone("2006-01-02", d, z), (_A, _S)),
}

#: the sprig functions implemented here (every other sprig name raises an error naming it)
SPRIG_IMPLEMENTED = frozenset(_SPRIG)

# Sprig v3.3's generic function map, minus env/expandenv (Argo deletes them), minus the ones above.
_SPRIG_NOT_IMPLEMENTED = {
    **dict.fromkeys(
        [
            "ago",
            "date_modify",
            "dateModify",
            "duration",
            "durationRound",
            "must_date_modify",
            "mustDateModify",
            "mustToDate",
            "now",
            "toDate",
            "unixEpoch",
        ],
        "dates and times",
    ),
    **dict.fromkeys(
        [
            "abbrevboth",
            "initials",
            "randAlphaNum",
            "randAlpha",
            "randAscii",
            "randNumeric",
            "swapcase",
            "shuffle",
            "snakecase",
            "camelcase",
            "kebabcase",
            "wrap",
            "wrapWith",
        ],
        "string helper not implemented locally",
    ),
    **dict.fromkeys(
        [
            "bcrypt",
            "htpasswd",
            "genPrivateKey",
            "derivePassword",
            "buildCustomCert",
            "genCA",
            "genCAWithKey",
            "genSelfSignedCert",
            "genSelfSignedCertWithKey",
            "genSignedCert",
            "genSignedCertWithKey",
            "encryptAES",
            "decryptAES",
            "randBytes",
        ],
        "cryptography",
    ),
    **dict.fromkeys(["semver", "semverCompare"], "semantic versions"),
    **dict.fromkeys(
        ["getHostByName", "urlParse", "urlJoin", "osBase", "osClean", "osDir", "osExt", "osIsAbs"],
        "network, URL and OS helpers",
    ),
    **dict.fromkeys(
        [
            "mustCompact",
            "mustDeepCopy",
            "deepCopy",
            "typeIsLike",
            "merge",
            "mergeOverwrite",
            "mustMerge",
            "mustMergeOverwrite",
            "mustAppend",
            "mustPush",
            "mustPrepend",
            "mustFirst",
            "mustRest",
            "mustLast",
            "mustInitial",
            "mustReverse",
            "mustUniq",
            "mustWithout",
            "mustHas",
            "mustSlice",
            "chunk",
            "mustChunk",
        ],
        "list/dict helper not implemented locally",
    ),
}


def _sprig_map() -> dict[str, Any]:
    out: dict[str, Any] = dict(_SPRIG)
    for name, why in _SPRIG_NOT_IMPLEMENTED.items():
        out[name] = GoFunc(f"sprig.{name}", sprig_fail, (), True, unsupported=why)
    return out


SPRIG_MAP = _sprig_map()
