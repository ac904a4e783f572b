"""A small validator for the subset of JSON Schema the config uses.

Keywords: type, properties, required, additionalProperties (bool or
schema), items, enum, const, pattern, minimum, maximum, minLength,
maxLength, minItems, maxItems, uniqueItems, anyOf, description, default.
A schema with any other keyword is a programming error (SchemaBug), so a
backend's CONFIG_SCHEMA cannot silently ask for checks that never run.
Why not the jsonschema package: one more dependency on the device for
these few keywords, and its messages do not carry YAML line numbers.
"""
from __future__ import annotations

import re
from typing import Any

KEYWORDS = {"type", "properties", "required", "additionalProperties", "items",
            "enum", "const", "pattern", "minimum", "maximum", "minLength",
            "maxLength", "minItems", "maxItems", "uniqueItems", "anyOf",
            "description", "default"}

Path = tuple[str | int, ...]


class SchemaBug(Exception):
    pass


def path_text(path: Path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _type_ok(value: Any, t: str) -> bool:
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    raise SchemaBug(f"unknown type {t!r}")


def _kind(value: Any) -> str:
    for t in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _type_ok(value, t):
            return {"array": "a list", "object": "a mapping", "null": "nothing",
                    "integer": "an integer", "boolean": "a boolean"}.get(t, "a " + t)
    return type(value).__name__


def check_schema(schema: dict[str, Any], where: str = "schema") -> None:
    """Raise SchemaBug if the schema uses keywords this validator lacks."""
    bad = set(schema) - KEYWORDS
    if bad:
        raise SchemaBug(f"{where}: unsupported schema keywords {sorted(bad)}")
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            check_schema(schema[key], f"{where}.{key}")
    for i, sub in enumerate(schema.get("anyOf", [])):
        check_schema(sub, f"{where}.anyOf[{i}]")


def validate(value: Any, schema: dict[str, Any], path: Path = ()) -> list[tuple[Path, str]]:
    """All problems of value against schema, as (path, message)."""
    errs: list[tuple[Path, str]] = []
    if "anyOf" in schema:
        options = [validate(value, s, path) for s in schema["anyOf"]]
        if all(options):
            # Report the option that got furthest (fewest problems).
            errs.extend(sorted(options, key=len)[0])
            return errs
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            want = " or ".join(types)
            return [(path, f"expected {want}, got {_kind(value)}")]
    if "const" in schema and value != schema["const"]:
        errs.append((path, f"must be {schema['const']!r}"))
    if "enum" in schema and value not in schema["enum"]:
        errs.append((path, f"{value!r} is not one of: " +
                     ", ".join(str(e) for e in schema["enum"])))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append((path, "must not be empty" if schema["minLength"] == 1
                         else f"must be at least {schema['minLength']} characters"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append((path, f"must be at most {schema['maxLength']} characters"))
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            errs.append((path, f"{value!r} does not match {schema['pattern']}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append((path, f"must be at least {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append((path, f"must be at most {schema['maximum']}"))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append((path, f"needs at least {schema['minItems']} entries"))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append((path, f"takes at most {schema['maxItems']} entries"))
        if schema.get("uniqueItems"):
            seen: list[Any] = []
            for i, v in enumerate(value):
                if v in seen:
                    errs.append((path + (i,), f"duplicate entry {v!r}"))
                seen.append(v)
        if "items" in schema:
            for i, v in enumerate(value):
                errs.extend(validate(v, schema["items"], path + (i,)))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errs.append((path, f"missing required field {req!r}"))
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                errs.extend(validate(v, props[k], path + (k,)))
            elif extra is False:
                known = ", ".join(sorted(props)) or "none"
                errs.append((path + (k,), f"unknown field {k!r} (known: {known})"))
            elif isinstance(extra, dict):
                errs.extend(validate(v, extra, path + (k,)))
    return errs
