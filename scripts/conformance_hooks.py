"""Schemathesis hooks for scripts/conformance.py (loaded via SCHEMATHESIS_HOOKS).

- Keeps the run from sawing off its own branch: the bootstrap client, its
  grants and the signing keys that existed when the run started are the
  credentials every request uses, so a request aimed at one of them (by a
  path `id` learnt from a listing) is sent to a fresh id instead, which the
  server answers with 404 like any unknown id. Every operation is still
  tested, on every other resource.
- Adds the check `jsonapi_document`: every `application/vnd.api+json`
  response validates against the JSON:API JSON Schema of the npm package
  jsonapi-validator (when CONFORMANCE_JSONAPI_SCHEMA names it).
"""

import json
import os

import schemathesis

PROTECTED = set(os.environ.get("CONFORMANCE_PROTECTED", "").split())
REPLACEMENT = "01JZZZZZZZZZZZZZZZZZZZZZZZ"

_validator = None


def _jsonapi_validator():
    global _validator
    path = os.environ.get("CONFORMANCE_JSONAPI_SCHEMA")
    if not path:
        return None
    if _validator is None:
        import jsonschema

        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        _validator = cls(schema)
    return _validator


@schemathesis.hook
def before_call(ctx, case, kwargs):
    params = case.path_parameters or {}
    for name, value in list(params.items()):
        if str(value) in PROTECTED:
            params[name] = REPLACEMENT


@schemathesis.check
def jsonapi_document(ctx, response, case):
    """Every JSON:API response document is valid against the JSON:API schema."""
    media = response.headers.get("content-type") or response.headers.get("Content-Type") or ""
    if isinstance(media, list):
        media = media[0] if media else ""
    if not media.lower().startswith("application/vnd.api+json"):
        return None
    validator = _jsonapi_validator()
    if validator is None:
        return None
    document = json.loads(response.content)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        raise AssertionError(
            f"not a valid JSON:API document at /{'/'.join(map(str, first.path))}: {first.message}"
        )
    return None
