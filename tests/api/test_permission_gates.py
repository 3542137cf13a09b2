"""Every route starts a use case of the permissions table, and the gate is the table's.

Walks the app's URL map, so a new route without an entry fails here, and then asks every
write route as every role: a role the table does not allow is refused (403) before its body
is even read; a role it allows gets past the gate (whatever the empty body earns it then).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from custody.domain.permissions import PERMISSIONS, Role, allows

READ_ONLY = {"GET", "HEAD", "OPTIONS"}
PACKAGE = Path(__file__).resolve().parents[2] / "custody"


def _write_rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - READ_ONLY):
            yield rule, method


def test_every_write_route_api_and_page_form_alike_has_an_entry(app):
    missing = [
        f"{method} {rule.rule}"
        for rule, method in _write_rules(app)
        if getattr(app.view_functions[rule.endpoint], "use_case", None) not in PERMISSIONS
    ]
    assert missing == []
    assert len(list(_write_rules(app))) >= 56  # the walk really saw the routes


def test_every_api_and_page_route_says_its_use_case(app):
    unmarked = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and not rule.rule.startswith("/api/v1/openapi")
        and getattr(app.view_functions[rule.endpoint], "use_case", None) is None
    ]
    assert unmarked == []


def _concrete(path: str) -> str:
    """A URL for a rule: every variable part filled with something that names nothing."""
    return re.sub(
        r"<(?:int:)?[^>]+>", lambda m: "1" if m.group(0).startswith("<int:") else "X1", path
    )


def test_the_api_gate_refuses_exactly_the_roles_the_table_refuses(app, client, make):
    headers = {role: make.auth(role.value) for role in Role}
    checked = 0
    for rule, method in _write_rules(app):
        if not rule.rule.startswith("/api/v1/"):
            continue
        use_case = app.view_functions[rule.endpoint].use_case
        for role in Role:
            answer = client.open(_concrete(rule.rule), method=method, headers=headers[role])
            refused = answer.status_code == 403 and answer.get_json()["error"]["code"] == (
                "forbidden"
            )
            assert refused != allows(role, use_case), (method, rule.rule, role, answer.status_code)
            checked += 1
    assert checked >= 4 * 52


def _role_sets_outside_domain() -> list[str]:
    """Literal sets of roles anywhere but domain/: `{Role.QA, Role.ADMIN}`, `("qa", "admin")`."""
    names = {r.value for r in Role}
    found = []
    for path in PACKAGE.rglob("*.py"):
        if "domain" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Set | ast.Tuple | ast.List):
                continue
            roles = [
                e
                for e in node.elts
                if (
                    isinstance(e, ast.Attribute)
                    and isinstance(e.value, ast.Name)
                    and e.value.id == "Role"
                )
                or (isinstance(e, ast.Constant) and e.value in names)
            ]
            if len(roles) >= 2 or (roles and len(node.elts) == 1):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_no_role_set_is_declared_outside_the_permissions_table():
    # The demo's accounts name one role each, as data; nothing else may list roles.
    assert [f for f in _role_sets_outside_domain() if not f.startswith("services/demo/")] == []


def test_user_create_refuses_a_role_the_table_does_not_know(runner):
    result = runner.invoke(
        args=["user", "create", "x", "--role", "surgeon", "--name", "X"], input="long password 1\n"
    )
    assert result.exit_code == 2
    for role in Role:
        assert role.value in result.output
