"""Fuzzing every operation in the OpenAPI document: however malformed a request, no 500.

The operations come from the API's own document, so endpoints added later are fuzzed too. Each
gets, from Hypothesis, random path parameters (unicode, NUL, `../`, percent-encodings, very long
strings), query strings, JSON bodies (arbitrary values, and objects carrying the schema's own
field names with wrong or hostile values), bodies that are not JSON, and wrong content types;
as an admin, with no credentials, and with a made-up token. A fixed catalogue of known-hostile
requests (and the methods the document does not list) is also sent every run, one hostile part
at a time in an otherwise plausible admin request.

Every answer must be below 500; an error must be exactly the envelope
`{"error": {"code", "message", "details"}}` with words in it; a success the document describes
as JSON must be JSON.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody import create_app
from tests.conftest import TEST_SECRET

OPENAPI = "/api/v1/openapi.json"
HTTP_METHODS = ("get", "put", "post", "patch", "delete")
EXAMPLES_PER_OPERATION = 40


def _document() -> dict:
    """The OpenAPI document of a throwaway app (in-memory SQLite, never connected to)."""
    app = create_app({"CUSTODY_DATABASE_URL": "sqlite://", "CUSTODY_SECRET_KEY": TEST_SECRET})
    return app.test_client().get(OPENAPI).get_json()


OPERATIONS = [
    (method.upper(), path)
    for path, item in _document()["paths"].items()
    for method in item
    if method in HTTP_METHODS
]


# --- what to send ---------------------------------------------------------------------------

NASTY = [
    "",
    " ",
    "\t\r\n",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "..",
    "../",
    "../../../etc/passwd",
    "..%2f..%2f",
    "%2e%2e%2f",
    "%00",
    "%",
    "%zz",
    "%ff%fe",
    "?x=1",
    "#frag",
    ";",
    "'",
    '"',
    "' OR '1'='1' --",
    "\\",
    "null",
    "true",
    "0",
    "-1",
    "9" * 40,
    "1e999",
    "NaN",
    "Infinity",
    "0x10",
    "\u202e",
    "\ufeff",
    "\U0001f9ec",
    "ß",
    "İ",
    "\u0660\u0661\u0662",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "A" * 5000,
]

nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(100, 3000)),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**100]),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)

RAW_BODIES = [
    b"",
    b"{",
    b'{"a":',
    b"[1,",
    b"NaN",
    b"-Infinity",
    b"1e999",
    b'{"a": 1e999}',
    b'"\\ud800"',
    b'{"a": "\\u0000"}',
    b"\xff\xfe\x00\x00",
    b"\xef\xbb\xbf{}",
    b"[" * 5000,
    b'{"a":' * 5000,
    b"<xml/>",
    b"a=1&b=2",
]
raw_bodies = st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=200))
WRONG_CONTENT_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/octet-stream",
    "application/json; charset=utf-16",
    "application/json; charset=nonsense",
    "application/merge-patch+json",
    "*/*",
]


def _resolve(spec: dict, node: dict) -> dict:
    """Follow `$ref`s ("#/components/schemas/UserIn") to the node they name."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _value_for(spec: dict, schema: dict, depth: int) -> st.SearchStrategy:
    """A value for one property: often of its declared type with hostile content, often not."""
    schema = _resolve(spec, schema)
    options = [json_values]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    kind = schema.get("type")
    if kind == "string":
        shortest = schema.get("minLength", 0)
        longest = max(shortest, min(schema.get("maxLength", 40), 40))
        options += [nasty_text, st.text(min_size=shortest, max_size=longest)]
    elif kind == "integer":
        bounded = st.integers(schema.get("minimum"), schema.get("maximum"))
        options += [st.integers(), bounded]
    elif kind == "number":
        options += [st.floats(allow_nan=False, allow_infinity=False), st.integers()]
    elif kind == "boolean":
        options.append(st.booleans())
    elif kind == "array" and depth < 2:
        options.append(st.lists(_value_for(spec, schema.get("items", {}), depth + 1), max_size=4))
    elif schema.get("properties") and depth < 2:
        options.append(_object_for(spec, schema, depth + 1))
    return st.one_of(options)


def _object_for(spec: dict, schema: dict, depth: int = 0) -> st.SearchStrategy[dict]:
    """Objects carrying the schema's own field names (required ones or any), plus strangers."""
    schema = _resolve(spec, schema)
    properties = schema.get("properties", {})
    values = {name: _value_for(spec, sub, depth) for name, sub in properties.items()}
    required = {name: values[name] for name in schema.get("required", []) if name in values}
    others = {name: value for name, value in values.items() if name not in required}
    shaped = st.one_of(
        st.fixed_dictionaries({}, optional=values),
        st.fixed_dictionaries(required, optional=others),
    )
    strangers = st.dictionaries(st.text(max_size=10), json_values, max_size=2)
    return st.builds(lambda extra, fields: {**extra, **fields}, strangers, shaped)


@dataclass(frozen=True, repr=False)
class Call:
    """One request; `auth` is "admin", "none" or "made-up" (then `authorization` is sent)."""

    method: str
    path: str
    query: str
    auth: str
    authorization: str
    content_type: str | None
    body: bytes | None

    def __repr__(self) -> str:
        def cut(value) -> str:
            text = repr(value)
            return text if len(text) <= 160 else f"{text[:160]}… ({len(text)} chars)"

        auth = cut(self.authorization) if self.auth == "made-up" else self.auth
        return (
            f"{self.method} {cut(self.path)} query={cut(self.query)} auth={auth}"
            f" content_type={self.content_type!r} body={cut(self.body)}"
        )

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis shows a failing example
        printer.text(repr(self))


@dataclass(frozen=True)
class Operation:
    """What the document says about one operation, as the fuzzers need it."""

    method: str
    template: str
    path_names: list[str]
    query_names: list[str]
    content: dict  # request body media types -> {"schema": ...}

    @classmethod
    def of(cls, spec: dict, method: str, template: str) -> Operation:
        item = spec["paths"][template]
        operation = item[method.lower()]
        parameters = [
            _resolve(spec, p) for p in item.get("parameters", []) + operation.get("parameters", [])
        ]
        return cls(
            method=method,
            template=template,
            path_names=re.findall(r"\{([^}]+)\}", template),
            query_names=[p["name"] for p in parameters if p.get("in") == "query"],
            content=_resolve(spec, operation.get("requestBody", {})).get("content", {}),
        )

    def path(self, values: dict[str, tuple[str, str]]) -> str:
        """The path with each parameter `name` as `values[name]` = (text, characters kept raw)."""

        def one(match: re.Match) -> str:
            value, safe = values.get(match.group(1), ("x", ""))
            return quote(value, safe=safe, errors="surrogatepass")

        return re.sub(r"\{([^}]+)\}", one, self.template)


def _calls(spec: dict, op: Operation) -> st.SearchStrategy[Call]:
    # Path parameters: percent-encoded whole, or with `/` and `%` left raw (`../`, `%2e%2e`).
    raw_kept = st.sampled_from(["", "/%"])
    segments = st.fixed_dictionaries(
        {name: st.tuples(nasty_text, raw_kept) for name in op.path_names}
    )

    # Query strings: the documented names and others, with hostile values; or raw junk.
    keys = st.text(max_size=10)
    if op.query_names:
        keys = st.one_of(st.sampled_from(op.query_names), keys)
    values = st.one_of(nasty_text, st.integers().map(str), json_values.map(json.dumps))
    pairs = st.lists(st.tuples(keys, values), max_size=6)
    queries = st.one_of(
        pairs.map(lambda ps: urlencode(ps, encoding="utf-8", errors="surrogatepass")),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
    )

    # Bodies: JSON of the schema's shape or any shape; not JSON; the wrong content type; none.
    content = op.content
    shapes = [json_values]
    shapes += [
        _object_for(spec, media["schema"]) for media in content.values() if "schema" in media
    ]
    json_bodies = st.one_of(shapes).map(lambda value: json.dumps(value).encode())
    bodies = st.one_of(
        st.tuples(st.sampled_from(sorted(content) or ["application/json"]), json_bodies),
        st.tuples(st.just("application/json"), raw_bodies),
        st.tuples(st.sampled_from(WRONG_CONTENT_TYPES), st.one_of(json_bodies, raw_bodies)),
        st.just((None, None)),
    )

    schemes = st.sampled_from(["Bearer ", "bearer ", "Bearer", "Basic ", "Token ", ""])
    latin1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    authorizations = st.builds(lambda s, t: s + t, schemes, st.text(latin1, max_size=60))
    auths = st.one_of(  # half as the admin, a quarter each without and with a made-up token
        st.just(("admin", "")),
        st.just(("admin", "")),
        st.just(("none", "")),
        st.tuples(st.just("made-up"), authorizations),
    )

    @st.composite
    def calls(draw) -> Call:
        path = op.path(draw(segments))
        query = draw(queries)
        auth, authorization = draw(auths)
        content_type, body = draw(bodies)
        return Call(op.method, path, query, auth, authorization, content_type, body)

    return calls()


# A few hostile strings for body fields, and values of the wrong type.
HOSTILE_FIELD_VALUES = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\u202e",
    "\U0001f9ec",
    "' OR '1'='1' --",
    "A" * 5000,
    None,
    True,
    -1,
    1.5,
    10**100,
    [],
    {},
]
_serial = itertools.count(1)


def _plain(spec: dict, schema: dict, depth: int = 0):
    """What a well-behaved client would send; strings are unique, so creations succeed."""
    schema = _resolve(spec, schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "string":
        text = f"fuzz{next(_serial):08d}"
        return text.ljust(schema.get("minLength", 0), "x")[: schema.get("maxLength", len(text))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if schema.get("properties") and depth < 2:
        return {k: _plain(spec, v, depth + 1) for k, v in schema["properties"].items()}
    return None


def _catalogue(spec: dict, op: Operation) -> list[Call]:
    """Known-hostile requests, all of them sent every run: what random draws might miss.

    Each varies one part of an otherwise plausible admin request (with the body a well-behaved
    client would send), so that the hostile part gets past the validation of the rest.
    """
    media_types = [(t, _resolve(spec, m.get("schema", {}))) for t, m in op.content.items()]
    plain_type = media_types[0][0] if media_types else None

    def plain_body(schema: dict) -> dict:
        value = _plain(spec, schema)
        return value if isinstance(value, dict) else {}

    def plain() -> bytes | None:
        return json.dumps(plain_body(media_types[0][1])).encode() if media_types else None

    def admin(path=None, query="", content_type=None, body=None) -> Call:
        return Call(op.method, path or op.path({}), query, "admin", "", content_type, body)

    calls = [admin(content_type="application/json", body=raw) for raw in RAW_BODIES]
    calls += [admin(content_type=wrong, body=plain() or b"{}") for wrong in WRONG_CONTENT_TYPES]
    calls += [  # methods the document does not list for this path: 405, in the envelope
        Call(other.upper(), op.path({}), "", auth, "", "application/json", b"{}")
        for other in HTTP_METHODS
        if other not in spec["paths"][op.template]
        for auth in ("admin", "none")
    ]
    for name in op.path_names:
        for value in NASTY:
            for safe in ("", "/%"):
                path = op.path({name: (value, safe)})
                calls.append(admin(path=path, content_type=plain_type, body=plain()))
    for name in op.query_names:
        for value in NASTY:
            query = urlencode({name: value}, errors="surrogatepass")
            calls.append(admin(query=query, content_type=plain_type, body=plain()))
    for content_type, schema in media_types:
        for field in schema.get("properties", {}):
            for value in HOSTILE_FIELD_VALUES:
                body = json.dumps({**plain_body(schema), field: value}).encode()
                calls.append(admin(content_type=content_type, body=body))
    return calls


# --- what must come back -------------------------------------------------------------------


def _json(response, where: str):
    assert response.mimetype == "application/json", where
    try:
        return json.loads(response.get_data())
    except ValueError:
        raise AssertionError(f"not JSON: {where}") from None


def _check(spec: dict, operation: dict | None, call: Call, response) -> None:
    status = response.status_code
    where = f"{call!r}\n  -> {status} {response.get_data()[:500]!r}"
    assert status < 500, where
    if status >= 400:
        body = _json(response, where)
        assert isinstance(body, dict) and set(body) == {"error"}, where
        error = body["error"]
        assert isinstance(error, dict) and set(error) == {"code", "message", "details"}, where
        assert isinstance(error["code"], str) and error["code"], where
        assert isinstance(error["message"], str) and error["message"], where
        assert isinstance(error["details"], dict), where
    elif 200 <= status < 300 and operation is not None:
        responses = operation.get("responses", {})
        documented = _resolve(spec, responses.get(str(status), {}))
        if "application/json" in documented.get("content", {}):
            _json(response, where)


def _send(client, call: Call, admin: dict):
    headers = {}
    if call.auth == "admin":
        headers = dict(admin)
    elif call.auth == "made-up":
        headers = {"Authorization": call.authorization}
    # The `client` fixture runs each request in its own app context, as production does.
    return client.open(
        call.path,
        method=call.method,
        query_string=call.query,
        headers=headers,
        data=call.body,
        content_type=call.content_type,
    )


# --- the tests -----------------------------------------------------------------------------


def _documented(spec: dict) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]


def test_the_fuzzed_operations_are_those_the_app_documents(client):
    spec = client.get(OPENAPI).get_json()
    assert OPERATIONS
    assert sorted(OPERATIONS) == sorted(_documented(spec))


IDS = [f"{method} {path}" for method, path in OPERATIONS]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=IDS)
def test_known_hostile_requests(app, client, make, method, path):
    spec = client.get(OPENAPI).get_json()
    operation = spec["paths"][path][method.lower()]
    admin = make.auth("admin")
    calls = _catalogue(spec, Operation.of(spec, method, path))
    failures = []
    for call in calls:
        try:
            documented = operation if call.method == method else None
            _check(spec, documented, call, _send(client, call, admin))
        except AssertionError as error:
            failures.append(str(error).split("\nassert ")[0])
    if failures:
        summary = f"{len(failures)} of {len(calls)} requests broke the contract:"
        pytest.fail("\n".join([summary, *failures[:20]]), pytrace=False)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=IDS)
def test_random_malformed_requests(app, client, make, method, path):
    spec = client.get(OPENAPI).get_json()
    operation = spec["paths"][path][method.lower()]
    admin = make.auth("admin")

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(call=_calls(spec, Operation.of(spec, method, path)))
    def fuzz(call: Call) -> None:
        _check(spec, operation, call, _send(client, call, admin))

    fuzz()
