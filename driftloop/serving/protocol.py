"""Request and response shapes of the two public inference protocols, as pure functions (no HTTP).

* **KServe V1** (``POST /v1/models/<m>:predict``): ``{"instances": [...]}`` → ``{"predictions": [...]}``.
  An instance is an object of feature values (``{"age": 41, ...}``) or a row in the model's feature
  order (``[41, 52000.0, ...]``).
* **Open Inference Protocol V2** (``POST /v2/models/<m>/infer``): named tensors, each ``{"name",
  "shape", "datatype", "data"}`` with ``data`` in row-major order, flat or nested along ``shape``.
  Two layouts are read: one tensor per feature (``shape [N]`` or ``[N, 1]``, named after the feature),
  or one 2-D tensor ``[N, F]`` whose columns are the model's features in training order. The answer has
  ``model_name``, ``model_version``, ``id`` and the tensors ``predict`` (and ``probability`` for a
  classifier); ``parameters.ids`` are the per-row ids that feedback refers to.

Everything here raises :class:`~driftloop.errors.DataError` with a one-line message that names the
offending field; the HTTP layer answers it with a 400.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from driftloop.errors import DataError

__all__ = [
    "DATATYPES",
    "check_feature",
    "check_finite",
    "v1_instances",
    "v2_datatype",
    "v2_instances",
    "v2_metadata",
    "v2_response",
]

#: OIP V2 datatype -> the JSON values its ``data`` may hold.
DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    **{t: "int" for t in ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64")},
    **{t: "float" for t in ("FP16", "FP32", "FP64")},
    "BYTES": "str",
}
#: The values an INT*/UINT* tensor may hold (a value beyond its datatype is the client's error, a 400).
INT_RANGES: dict[str, tuple[int, int]] = {
    **{f"INT{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)},
    **{f"UINT{b}": (0, 2**b - 1) for b in (8, 16, 32, 64)},
}
#: Integers at or beyond this magnitude are not finite as a float64.
_FLOAT_LIMIT = 2**1024
_HINT = 'send {"inputs": [{"name": "<feature>", "shape": [N], "datatype": "FP64", "data": [...]}]}'


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _flatten(data: Any, where: str) -> list[Any]:
    """Row-major elements of ``data`` (a flat or nested JSON array)."""
    if not isinstance(data, list):
        raise DataError(f"{where}.data must be a JSON array, not {_shown(data)}", _HINT)
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:  # iterative: a deeply nested array cannot blow the stack
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _check_value(value: Any, kind: str, where: str, datatype: str = "") -> Any:
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(f"{where} is {_shown(value)}, not a number", "send numbers for FP tensors")
        if isinstance(value, int) and not -_FLOAT_LIMIT < value < _FLOAT_LIMIT:
            raise DataError(
                f"{where} is an integer of {len(str(abs(value)))} digits, beyond ±1.8e308",
                "send finite numbers (NaN, ±Infinity and numbers beyond ±1.8e308 are refused)",
            )
        if isinstance(value, float) and not math.isfinite(value):
            spelled = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            raise DataError(
                f"{where} is {spelled}, not a finite number",
                "send finite numbers (NaN, ±Infinity and numbers beyond ±1.8e308 are refused)",
            )
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataError(f"{where} is {_shown(value)}, not an integer", "send integers for INT tensors")
        low, high = INT_RANGES.get(datatype, (-(2**63), 2**64 - 1))
        if not low <= value <= high:
            shown = (
                _shown(value)
                if len(str(abs(value))) <= 40
                else f"an integer of {len(str(abs(value)))} digits"
            )
            raise DataError(
                f"{where} is {shown}, beyond {datatype or 'a 64-bit integer'} ({low}..{high})",
                "send values within the tensor's datatype (or a wider datatype)",
            )
    elif kind == "bool":
        if not isinstance(value, bool):
            raise DataError(f"{where} is {_shown(value)}, not true/false", "send booleans for BOOL tensors")
    elif not isinstance(value, str):
        raise DataError(f"{where} is {_shown(value)}, not a string", "send strings for BYTES tensors")
    return value


def _non_finite(value: Any) -> str | None:
    """How JSON spells ``value`` when it is a non-finite number (``json`` parses ``1e999`` as inf)."""
    if not isinstance(value, float) or math.isfinite(value):
        return None
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _field(field: str) -> str:
    return field if field.isprintable() and len(field) <= 100 else repr(field)[:100]  # one line


def check_finite(field: str, value: Any) -> None:
    spelled = _non_finite(value)
    if spelled is not None:
        raise DataError(
            f"{_field(field)} is {spelled}, not a finite number",
            "send finite numbers (NaN, ±Infinity and numbers beyond ±1.8e308 are refused)",
        )


#: The integers a feature value may be: what a 64-bit column holds (INT64 and UINT64).
INT_MIN, INT_MAX = -(2**63), 2**64 - 1


def check_feature(field: str, value: Any) -> None:
    """A feature value is a JSON scalar a model column can hold: a finite number within 64 bits, a string,
    true/false or null. Anything else is the client's mistake (a 400), never the model's."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise DataError(
                f"{_field(field)} is an integer of {len(str(abs(value)))} digits, beyond 64 bits",
                "send integers between -2**63 and 2**64-1 (or a float)",
            )
        return
    if isinstance(value, float):
        check_finite(field, value)
        return
    kind = "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else "a value"
    raise DataError(
        f"{_field(field)} is {kind}, not a number, string, boolean or null",
        "send one scalar value per feature",
    )


def _tensor(item: Any, i: int, max_rows: int | None = None) -> tuple[str, list[int], list[Any]]:
    where = f"inputs[{i}]"
    if not isinstance(item, dict):
        raise DataError(f"{where} must be an object with name, shape, datatype and data", _HINT)
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in item]
    if missing:
        raise DataError(f"{where} lacks {', '.join(missing)}", _HINT)
    name, shape, datatype = item["name"], item["shape"], item["datatype"]
    if not isinstance(name, str) or not name:
        raise DataError(f"{where}.name must be a non-empty string, not {_shown(name)}", _HINT)
    where = f"inputs[{i}] ({name[:40]})"
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise DataError(
            f"{where}.shape must be [N] or [N, F] of non-negative integers, not {_shown(shape)}", _HINT
        )
    kind = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if kind is None:
        raise DataError(f"{where}.datatype {_shown(datatype)} is not one of {', '.join(DATATYPES)}", _HINT)
    if max_rows is not None and shape[0] > max_rows:  # before any value is copied
        raise DataError(f"{where} has {shape[0]} rows: send at most {max_rows}", "split the batch")
    values = _flatten(item["data"], where)
    expected = math.prod(shape)
    if len(values) != expected:
        raise DataError(
            f"{where} has {len(values)} values, shape {shape} needs {expected}",
            "send shape and data that agree (row-major)",
        )
    return name, shape, [_check_value(v, kind, f"{where}.data[{j}]", datatype) for j, v in enumerate(values)]


def v2_instances(
    body: Any, features: Sequence[str] | None, max_rows: int | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of an OIP V2 infer request as feature dicts, and its ``id``.

    ``features`` is the model's feature order (None: the model was not fitted on named columns — then
    tensor names are used as given); a tensor of more than ``max_rows`` rows is refused before its values
    are copied."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise DataError('the body must be a JSON object with "inputs": [tensor, ...]', _HINT)
    rid = body.get("id")
    if rid is not None and (not isinstance(rid, str) or not rid):
        raise DataError(
            f"id must be a non-empty string, not {_shown(rid)}", "send a string id or leave it out"
        )
    tensors = [_tensor(item, i, max_rows) for i, item in enumerate(body["inputs"])]
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][1][1] != 1:
        name, (rows, cols), values = tensors[0]
        if features is not None and cols != len(features):
            raise DataError(
                f"inputs[0] ({name[:40]}) has {cols} columns, the model has {len(features)} features",
                f"send the columns in this order: {list(features)}",
            )
        columns = list(features) if features is not None else [f"{name}_{j}" for j in range(cols)]
        instances = [dict(zip(columns, values[r * cols : (r + 1) * cols], strict=True)) for r in range(rows)]
    else:
        rows = tensors[0][1][0]
        for name, shape, _ in tensors:
            if (len(shape) == 2 and shape[1] != 1) or shape[0] != rows:
                raise DataError(
                    f"inputs ({name[:40]}) has shape {shape}; one tensor per feature needs [{rows}] or "
                    f"[{rows}, 1] for every input",
                    "send every feature with the same row count, or one [N, F] tensor",
                )
        names = [t[0] for t in tensors]
        if len(set(names)) != len(names):
            raise DataError(
                f"inputs name a tensor twice: {sorted(n for n in set(names) if names.count(n) > 1)}", _HINT
            )
        instances = [{name: values[r] for name, _, values in tensors} for r in range(rows)]
    return instances, rid


def v1_instances(body: Any, features: Sequence[str] | None) -> Any:
    """A KServe V1 body with every row-array instance turned into a feature dict (others unchanged;
    :meth:`PredictionService.parse` checks the rest)."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        return body
    instances = body["instances"]
    if not any(isinstance(inst, list) for inst in instances):
        return body
    if features is None:
        raise DataError(
            "this model was not fitted on named features: send instances as objects",
            'send {"instances": [{"feature": value, ...}]}',
        )
    rows = []
    for i, inst in enumerate(instances):
        if isinstance(inst, list):
            if len(inst) != len(features):
                raise DataError(
                    f"instances[{i}] has {len(inst)} values, the model has {len(features)} features",
                    f"send the values in this order: {list(features)}",
                )
            inst = dict(zip(features, inst, strict=True))
        rows.append(inst)
    return {**body, "instances": rows}


def v2_datatype(values: Sequence[Any]) -> str:
    """The OIP datatype of a prediction column (JSON scalars from ``tolist()``)."""
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def v2_response(reply: dict[str, Any]) -> dict[str, Any]:
    """The OIP V2 infer response for a :meth:`PredictionService.predict_rows` reply."""
    preds = reply["predictions"]
    outputs = [{"name": "predict", "shape": [len(preds)], "datatype": v2_datatype(preds), "data": preds}]
    if reply.get("probabilities") is not None:
        probas = reply["probabilities"]
        outputs.append({"name": "probability", "shape": [len(probas)], "datatype": "FP64", "data": probas})
    return {
        "model_name": reply["model"],
        "model_version": reply["model_version"],
        "id": reply["request_id"],
        "parameters": {"route": reply["route"], "ids": reply["ids"]},
        "outputs": outputs,
    }


def v2_metadata(
    model: str,
    versions: list[str],
    platform: str,
    features: list[str] | None,
    predict_datatype: str,
    has_proba: bool,
) -> dict[str, Any]:
    """OIP V2 model metadata. Feature datatypes are not recorded with a model: inputs say ``FP64``
    (numbers; a categorical feature takes ``BYTES`` as well)."""
    inputs = [{"name": f, "datatype": "FP64", "shape": [-1]} for f in features or []]
    outputs = [{"name": "predict", "datatype": predict_datatype, "shape": [-1]}]
    if has_proba:
        outputs.append({"name": "probability", "datatype": "FP64", "shape": [-1]})
    return {"name": model, "versions": versions, "platform": platform, "inputs": inputs, "outputs": outputs}
