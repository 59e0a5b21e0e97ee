"""Every example in the OpenAPI document (/api/docs/) is there and true (issue 7).

There: each operation with a JSON request body has a request example, and each 2xx JSON response a response
example. True: each example validates against its own schema in the generated document, with every object
closed (a property the serializer does not produce fails, as does a missing required one), OpenAPI 3.0's
`nullable` honoured and the formats checked (uuid, date-time, uri). An example that drifts from its
serializer, or that drf-spectacular wraps in a second page envelope, fails here naming the operation.

Cross-company: none to test. This module reads the generated schema only; it holds no company's data.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

METHODS = ("get", "put", "post", "patch", "delete")
DOCUMENT_URI = "urn:recado:openapi"
# OpenAPI 3.0 schema keywords that are annotations or that JSON Schema draft 4 lacks (`nullable` is rewritten).
OPENAPI_ONLY = {"nullable", "readOnly", "writeOnly", "example", "discriminator", "xml", "externalDocs",
                "deprecated"}


@pytest.fixture(scope="module")
def document() -> dict:
    """The document /api/schema/ serves (what `manage.py spectacular` writes), as plain JSON."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


@pytest.fixture(scope="module")
def validator_for(document):
    """schema → a draft 4 validator (OpenAPI 3.0's dialect) resolving $refs against the document."""
    assert document["openapi"].startswith("3.0."), "OpenAPI 3.1 is plain JSON Schema 2020-12: switch validators"
    converted = _json_schema(document["components"]["schemas"], mapping=True)
    resource = Resource.from_contents({"components": {"schemas": converted}}, default_specification=DRAFT4)
    registry = Registry().with_resource(DOCUMENT_URI, resource)

    def validator(schema: dict) -> Draft4Validator:
        return Draft4Validator(_json_schema(schema), registry=registry, format_checker=FORMATS)

    return validator


def _json_schema(node, *, mapping: bool = False):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable` as `{"anyOf": [..., null]}`, annotations dropped,
    $refs pointing into the registered document, and every object with `properties` closed."""
    if mapping:  # name → schema (`properties`, `components.schemas`)
        return {name: _json_schema(schema) for name, schema in node.items()}
    schema = {key: value for key, value in node.items() if key not in OPENAPI_ONLY}
    if "$ref" in schema:
        schema["$ref"] = DOCUMENT_URI + schema["$ref"]
    if "properties" in schema:
        schema["properties"] = _json_schema(schema["properties"], mapping=True)
        schema.setdefault("additionalProperties", False)
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _json_schema(schema["additionalProperties"])
    if "items" in schema:
        schema["items"] = _json_schema(schema["items"])
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in schema:
            schema[keyword] = [_json_schema(item) for item in schema[keyword]]
    if "not" in schema:
        schema["not"] = _json_schema(schema["not"])
    if node.get("nullable"):
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


FORMATS = FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value.lower()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value) -> bool:
    # RFC 3339: a date, "T", a time and an offset (what DRF writes, e.g. 2026-01-05T12:00:00Z)
    return not isinstance(value, str) or ("T" in value and
                                          datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None)


@FORMATS.checks("uri")
def _is_uri(value) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                yield f"{method.upper()} {path} ({operation['operationId']})", operation


def _json(content: dict) -> dict:
    return {media_type: body for media_type, body in content.items() if media_type.split(";")[0].endswith("json")}


def _problems(validator, schema: dict, value) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in validator(schema).iter_errors(value)]


def test_every_json_body_and_2xx_response_has_an_example(document):
    missing = []
    for name, operation in _operations(document):
        for media_type, body in _json(operation.get("requestBody", {}).get("content", {})).items():
            if not body.get("examples"):
                missing.append(f"{name}: request {media_type}")
        for status, response in operation["responses"].items():
            for media_type, body in _json(response.get("content", {})).items():
                if status.startswith("2") and not body.get("examples"):
                    missing.append(f"{name}: {status} {media_type}")
    assert not missing, "no example for:\n" + "\n".join(missing)


def test_every_response_example_matches_its_schema(document, validator_for):
    checked, wrong = 0, []
    for name, operation in _operations(document):
        for status, response in operation["responses"].items():
            for media_type, body in _json(response.get("content", {})).items():
                for example_name, example in body.get("examples", {}).items():
                    checked += 1
                    for problem in _problems(validator_for, body["schema"], example["value"]):
                        wrong.append(f"{name} {status} {media_type} example {example_name!r}: {problem}")
    assert checked >= 50, checked
    assert not wrong, "response examples that are not what the API returns:\n" + "\n".join(wrong)


def test_every_request_example_matches_its_schema(document, validator_for):
    checked, wrong = 0, []
    for name, operation in _operations(document):
        for media_type, body in _json(operation.get("requestBody", {}).get("content", {})).items():
            for example_name, example in body.get("examples", {}).items():
                checked += 1
                for problem in _problems(validator_for, body["schema"], example["value"]):
                    wrong.append(f"{name} {media_type} example {example_name!r}: {problem}")
    assert checked >= 20, checked
    assert not wrong, "request examples the API would refuse:\n" + "\n".join(wrong)


def test_the_check_bites(document, validator_for):
    """A drifted example fails: a renamed or missing field, a wrong type, a bad format, a second envelope."""
    operation = document["paths"]["/api/v1/contacts/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    contact = operation["examples"]["Contact"]["value"]
    schema = operation["schema"]
    assert _problems(validator_for, schema, contact) == []
    renamed = {**{key: value for key, value in contact.items() if key != "is_ignored"}, "ignored": False}
    assert len(_problems(validator_for, schema, renamed)) == 2  # `ignored` unknown, `is_ignored` missing
    assert _problems(validator_for, schema, {**contact, "bot_paused": "no"})
    assert _problems(validator_for, schema, {**contact, "id": "a1b2c3d4"})
    assert _problems(validator_for, schema, {**contact, "created_at": "2026-01-05 12:00"})
    assert _problems(validator_for, schema, {**contact, "name": None})
    page = document["paths"]["/api/v1/contacts"]["get"]["responses"]["200"]["content"]["application/json"]
    wrapped = {**page["examples"]["Page"]["value"], "results": [page["examples"]["Page"]["value"]["results"]]}
    assert _problems(validator_for, page["schema"], wrapped)
