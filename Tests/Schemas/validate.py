#!/usr/bin/env python3
"""Checks the message contracts in docs/ against sample messages.

    python3 Tests/Schemas/validate.py --schemas docs/schemas --asyncapi docs/asyncapi.yaml \
        --valid-requests DIR --invalid-requests DIR --results DIR [--invalid-results DIR] \
        [--completions DIR] [--invalid-completions DIR]

Every *.json file in --valid-requests must validate against the request schema, every one in
--invalid-requests must fail it, every one in --results must validate against the result schema
(and every one in --invalid-results must fail it), and likewise for completions. The schemas are
first checked to be valid JSON Schema 2020-12 documents, and the AsyncAPI document is sanity-checked. Prints one line per
failure and a summary; exits 0 when all is well, 1 on any failure, 2 when it cannot run.

SchemaContractTests.swift runs this with samples built by the real decoder and encoder.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

try:
    import jsonschema
    import yaml
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import SchemaError, best_match
except ImportError as missing:
    print(f"validate.py: {missing}; run .ci/setup to install jsonschema and PyYAML", file=sys.stderr)
    sys.exit(2)

REQUEST_SCHEMA = "video-request.schema.json"
RESULT_SCHEMA = "video-result.schema.json"
COMPLETION_SCHEMA = "video-completion.schema.json"
SCHEMAS = (REQUEST_SCHEMA, RESULT_SCHEMA, COMPLETION_SCHEMA)
# The default topic names (OptionCatalog.swift) and the schema each one's messages must use.
CHANNELS = {
    "chanjing.video.requests": REQUEST_SCHEMA,
    "chanjing.video.results": RESULT_SCHEMA,
    "chanjing.video.completions": COMPLETION_SCHEMA,
}
# Long echoed instances (a 2,500-character prompt) would drown the report.
MAX_MESSAGE = 240

failures: list[str] = []


def fail(where: str, what: str) -> None:
    text = " ".join(what.split())  # one line, whatever the instance held
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    failures.append(f"FAIL {where}: {text}")
    print(failures[-1])


# --- JSON -------------------------------------------------------------------------------------


def _no_duplicates(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load_json(path: Path):
    """Strict RFC 8259, like the worker's parser: a sample Python's lenient json module would
    read differently (duplicate keys, NaN) is a broken sample, not a schema question."""
    text = path.read_bytes().decode("utf-8")
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


# --- formats ----------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc3339(instance) -> bool:
    """RFC 3339 date-time, for installs without rfc3339-validator (jsonschema skips the format
    silently then)."""
    if not isinstance(instance, str):
        return True
    match = _RFC3339.fullmatch(instance)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))  # 60: leap second
    except ValueError:
        return False
    offset = match.group(8)
    if offset not in ("Z", "z") and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
        return False
    return second <= 60


def formats_used(node) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            found.add(node["format"])
        for value in node.values():
            found |= formats_used(value)
    elif isinstance(node, list):
        for value in node:
            found |= formats_used(value)
    return found


def format_checker(schemas: dict[str, dict]) -> FormatChecker:
    """A checker that really checks every format the schemas use: jsonschema ignores a format
    whose optional library is missing, which would let a broken value through unnoticed."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(_rfc3339)
    for name, schema in schemas.items():
        for unchecked in sorted(formats_used(schema) - set(checker.checkers)):
            fail(name, f"format {unchecked!r} is not checked by this jsonschema install")
    return checker


# --- schemas and samples ----------------------------------------------------------------------


def load_schema(path: Path) -> dict | None:
    try:
        schema = load_json(path)
    except (OSError, ValueError) as error:
        fail(str(path), f"cannot read the schema: {error}")
        return None
    if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
        fail(str(path), f"$schema is {schema.get('$schema')!r}, not the 2020-12 meta-schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        fail(str(path), f"not a valid 2020-12 schema: {error.message}")
        return None
    return schema


def location(error: jsonschema.ValidationError) -> str:
    return error.json_path if error.path else "$"


def check_samples(directory: Path, label: str, validator: Draft202012Validator, should_pass: bool) -> int:
    """Validates every *.json file in `directory`; returns how many were checked."""
    if not directory.is_dir():
        fail(str(directory), f"{label}: not a directory")
        return 0
    files = sorted(directory.glob("*.json"))
    if not files:
        fail(str(directory), f"{label}: no *.json samples")  # an empty run proves nothing
    for path in files:
        where = f"{label}/{path.name}"
        try:
            instance = load_json(path)
        except (OSError, ValueError) as error:
            fail(where, f"not strict JSON: {error}")
            continue
        error = best_match(validator.iter_errors(instance))
        if should_pass and error is not None:
            fail(where, f"{location(error)}: {error.message}")
        elif not should_pass and error is None:
            fail(where, "the schema accepts this sample, which must be rejected")
    return len(files)


# --- AsyncAPI ---------------------------------------------------------------------------------


def pointer(document, ref: str):
    """The node a local `#/a/b` reference names, or None."""
    node = document
    for part in ref[2:].split("/") if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def references(node, trail: str = "$"):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield trail, node["$ref"]
        for key, value in node.items():
            yield from references(value, f"{trail}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from references(value, f"{trail}[{index}]")


def resolved(document, node):
    """Follows local references until a real object (at most a few hops; cycles give None)."""
    for _ in range(8):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#")):
            return node
        node = pointer(document, node["$ref"])
    return None


def check_asyncapi(path: Path, schemas_dir: Path, validators: dict[str, Draft202012Validator]) -> None:
    """Sanity checks: version, references, both channels with their payload schemas, the two
    operations, and every message example against its payload and header schemas."""
    where = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        fail(where, f"cannot read the AsyncAPI document: {error}")
        return
    if not isinstance(document, dict):
        fail(where, "not a YAML mapping")
        return
    if document.get("asyncapi") != "3.0.0":
        fail(where, f"asyncapi is {document.get('asyncapi')!r}, not '3.0.0'")

    # Every reference resolves: local ones inside the document, others to a file next to it.
    for trail, ref in references(document):
        if ref.startswith("#"):
            if pointer(document, ref) is None:
                fail(where, f"{trail}: {ref} names nothing in the document")
        elif not (path.parent / ref.split("#", 1)[0]).is_file():
            fail(where, f"{trail}: {ref} is not a file next to the document")

    channels = document.get("channels") or {}
    by_address = {channel.get("address"): name for name, channel in channels.items() if isinstance(channel, dict)}
    for address, schema_name in CHANNELS.items():
        name = by_address.get(address)
        if name is None:
            fail(where, f"no channel with address {address!r}")
            continue
        messages = channels[name].get("messages") or {}
        if not messages:
            fail(where, f"channel {name!r} lists no messages")
        expected = (schemas_dir / schema_name).resolve()
        for message_name, message in messages.items():
            message = resolved(document, message)
            payload = resolved(document, message.get("payload")) if isinstance(message, dict) else None
            if isinstance(payload, dict) and isinstance(payload.get("schema"), dict):
                payload = payload["schema"]  # a Multi Format Schema Object
            ref = payload.get("$ref") if isinstance(payload, dict) else None
            if not isinstance(ref, str) or ref.startswith("#"):
                fail(where, f"message {message_name!r} of channel {name!r}: payload is not a $ref to a schema file")
            elif (path.parent / ref.split("#", 1)[0]).resolve() != expected:
                fail(where, f"message {message_name!r} of channel {name!r}: payload {ref} is not {expected}")
            if not isinstance(message, dict):
                continue
            headers = resolved(document, message.get("headers"))
            for index, example in enumerate(message.get("examples") or []):
                label = f"message {message_name!r} example {example.get('name', index)!r}"
                if schema_name in validators and "payload" in example:
                    error = best_match(validators[schema_name].iter_errors(example["payload"]))
                    if error is not None:
                        fail(where, f"{label}: payload {location(error)}: {error.message}")
                if isinstance(headers, dict) and "headers" in example:
                    error = best_match(Draft202012Validator(headers).iter_errors(example["headers"]))
                    if error is not None:
                        fail(where, f"{label}: headers {location(error)}: {error.message}")

    # The worker receives requests and sends results and completions.
    operations = document.get("operations") or {}
    for address, action in (
        ("chanjing.video.requests", "receive"),
        ("chanjing.video.results", "send"),
        ("chanjing.video.completions", "send"),
    ):
        if not any(
            isinstance(operation, dict)
            and operation.get("action") == action
            and isinstance(resolved(document, operation.get("channel")), dict)
            and resolved(document, operation.get("channel")).get("address") == address
            for operation in operations.values()
        ):
            fail(where, f"no {action!r} operation on the channel {address!r}")


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    # Samples echo arbitrary text (lone surrogates included) into messages: never crash printing.
    sys.stdout.reconfigure(errors="backslashreplace")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", type=Path, required=True, help="the folder of the schema files")
    parser.add_argument("--asyncapi", type=Path, required=True, help="the AsyncAPI document")
    parser.add_argument("--valid-requests", type=Path, help="requests the schema must accept")
    parser.add_argument("--invalid-requests", type=Path, help="requests the schema must reject")
    parser.add_argument("--results", type=Path, help="results the schema must accept")
    parser.add_argument("--invalid-results", type=Path, help="results the schema must reject")
    parser.add_argument("--completions", type=Path, help="completions the schema must accept")
    parser.add_argument("--invalid-completions", type=Path, help="completions the schema must reject")
    arguments = parser.parse_args()

    schemas = {name: load_schema(arguments.schemas / name) for name in SCHEMAS}
    validators: dict[str, Draft202012Validator] = {}
    if all(schema is not None for schema in schemas.values()):
        checker = format_checker(schemas)
        validators = {name: Draft202012Validator(schema, format_checker=checker) for name, schema in schemas.items()}
        for name, validator in validators.items():  # a schema's own examples must be valid
            for index, example in enumerate(schemas[name].get("examples") or []):
                error = best_match(validator.iter_errors(example))
                if error is not None:
                    fail(f"{name} examples[{index}]", f"{location(error)}: {error.message}")
    check_asyncapi(arguments.asyncapi, arguments.schemas, validators)

    checked = 0
    if validators:
        request, result, completion = (validators[name] for name in SCHEMAS)
        for directory, label, validator, should_pass in (
            (arguments.valid_requests, "valid-requests", request, True),
            (arguments.invalid_requests, "invalid-requests", request, False),
            (arguments.results, "results", result, True),
            (arguments.invalid_results, "invalid-results", result, False),
            (arguments.completions, "completions", completion, True),
            (arguments.invalid_completions, "invalid-completions", completion, False),
        ):
            if directory is not None:
                checked += check_samples(directory, label, validator, should_pass)

    verdict = "OK" if not failures else f"{len(failures)} failure{'s' if len(failures) != 1 else ''}"
    print(f"validate.py: {len(SCHEMAS)} schemas, 1 AsyncAPI document and {checked} samples checked: {verdict}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
