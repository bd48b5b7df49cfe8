"""The same first hour on Airflow 2.11: its Flask connection form and its REST API v1.

The real webserver app runs in-process (Flask's test client, the metadata DB of the run). The
form is submitted the way a browser submits it (every field with the value it was rendered
with, plus what the user typed), and the Test button's call is the one its script makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.connection_fields import EXTRA_FIELDS
from airflow_provider_altcraft.hooks.altcraft import CONNECTION_OK_SANDBOX
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import TOKEN
from tests.ui.conftest import airflow_major

pytestmark = pytest.mark.skipif(
    airflow_major() >= 3,
    reason="Airflow 3 has no Flask connection form or REST API v1 (tests/ui/"
    "test_connection_ui.py covers its React form and /api/v2)",
)

# The UI tests' connections point at the sandbox, which says so.
OK_MESSAGE = CONNECTION_OK_SANDBOX
WRONG_TOKEN = "wrong-token-0000000000"


class FormValues(HTMLParser):
    """The name/value pairs a browser would submit for the untouched form."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        name = attr.get("name")
        if tag == "input" and name:
            if attr.get("type") in ("checkbox", "radio"):
                if "checked" in attr:
                    self.values[name] = attr.get("value") or "y"
            elif attr.get("type") not in ("submit", "button"):
                self.values[name] = attr.get("value") or ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attr:
            self.values[self._select] = attr.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


@pytest.fixture(scope="module")
def webapp(airflow_db: Path) -> Iterator[Any]:
    """Airflow 2's webserver app (every visitor an admin, no CSRF), connection tests enabled."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
        from airflow.www.app import create_app  # type: ignore[import-not-found,unused-ignore]

        app = create_app(
            config={"WTF_CSRF_ENABLED": False, "AUTH_ROLE_PUBLIC": "Admin"}, testing=True
        )
        yield app.test_client()


def save_from_the_form(webapp: Any, conn_id: str, typed: dict[str, str]) -> None:
    page = webapp.get("/connection/add")
    assert page.status_code == 200
    form = FormValues()
    form.feed(page.data.decode())
    ours = {key for key in form.values if key.startswith("extra__altcraft__")}
    assert ours == {f"extra__altcraft__{spec.name}" for spec in EXTRA_FIELDS}
    # Untouched, every field of ours is rendered empty: nothing pre-filled to be saved.
    assert {form.values[key] for key in ours} == {""}
    data = {**form.values, "conn_id": conn_id, "conn_type": "altcraft", **typed}

    response = webapp.post("/connection/add", data=data)

    assert response.status_code == 302, response.data.decode()[-2000:]


def read_back(webapp: Any, conn_id: str) -> dict[str, Any]:
    response = webapp.get(f"/api/v1/connections/{conn_id}")
    assert response.status_code == 200, response.json
    connection: dict[str, Any] = response.json
    return connection


def press_test_button(webapp: Any, **fields: Any) -> dict[str, Any]:
    """POST /api/v1/connections/test as the form's script does (non-empty fields only)."""
    body = {"conn_type": "altcraft", **fields}
    response = webapp.post("/api/v1/connections/test", json=body)
    assert response.status_code == 200, response.json
    result: dict[str, Any] = response.json
    return result


def test_an_untouched_form_saves_no_extra_and_the_connection_passes_its_test(
    webapp: Any, sandbox: SandboxHandle
) -> None:
    save_from_the_form(webapp, "altcraft_af2_defaults", {"host": sandbox.url, "password": TOKEN})
    saved = read_back(webapp, "altcraft_af2_defaults")

    assert saved["extra"] in (None, "", "{}")
    assert saved["host"] == sandbox.url

    result = press_test_button(
        webapp,
        connection_id="altcraft_af2_defaults",
        host=sandbox.url,
        password=TOKEN,
        extra="{}",
    )

    assert result == {"status": True, "message": OK_MESSAGE}
    assert len([e for e in sandbox.requests() if e["method"] == "tasks/status"]) == 2


def test_values_typed_in_the_form_are_saved_unmasked_and_reach_the_hook(
    webapp: Any, sandbox: SandboxHandle
) -> None:
    typed = {
        "extra__altcraft__auth_placement": "header",
        "extra__altcraft__http_503_not_applied": "true",
        "extra__altcraft__default_points_currency_eid": "stars",
        "extra__altcraft__timeout": "7.5",
        "extra__altcraft__verify": "false",
    }
    save_from_the_form(
        webapp, "altcraft_af2_typed", {"host": sandbox.url, "password": TOKEN, **typed}
    )

    saved = read_back(webapp, "altcraft_af2_typed")

    assert json.loads(saved["extra"]) == {
        "auth_placement": "header",
        "http_503_not_applied": "true",
        "default_points_currency_eid": "stars",
        "timeout": "7.5",
        "verify": "false",
    }
    # The script sends each custom field under both names.
    extra = {**typed, **{key.removeprefix("extra__altcraft__"): v for key, v in typed.items()}}
    result = press_test_button(
        webapp,
        connection_id="altcraft_af2_typed",
        host=sandbox.url,
        password=TOKEN,
        extra=json.dumps(extra),
    )

    assert result == {"status": True, "message": OK_MESSAGE}


def test_a_wrong_token_fails_the_test_with_the_hooks_refusal(
    webapp: Any, sandbox: SandboxHandle
) -> None:
    result = press_test_button(
        webapp,
        connection_id="altcraft_af2_wrong",
        host=sandbox.url,
        password=WRONG_TOKEN,
        extra="{}",
    )

    assert result["status"] is False
    assert result["message"].startswith("Altcraft tasks/status"), result
    assert "token" in result["message"].lower() and WRONG_TOKEN not in result["message"]
