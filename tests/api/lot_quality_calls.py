"""The calls the quality API tests make, and what they read back: results entered, QA's
signed dispositions, a lot's views (the `lot` fixture is in conftest.py)."""

from __future__ import annotations

import io
import re

import pypdf

from tests.api import responses
from tests.factories import PASSING_RESULTS, PASSWORD

API = "/api/v1"
SIGN = {"username": "quinn", "password": PASSWORD}
UNTOUCHED = {"status": "quarantine", "release": None}


def enter_all(client, lot: str, headers: dict, skip=(), **overrides) -> None:
    for test, fields in PASSING_RESULTS.items():
        if test not in skip:
            body = {"test": test, **overrides.get(test, fields)}
            responses.ok(client.post(f"{API}/lots/{lot}/results", json=body, headers=headers), 201)


def dispose(client, lot: str, headers: dict, action: str = "release", **fields):
    body = {"action": action, **SIGN, **fields}
    return client.post(f"{API}/lots/{lot}/disposition", json=body, headers=headers)


def release_lot(client, lot: str, qa: dict, tech: dict) -> dict:
    enter_all(client, lot, tech)
    return responses.ok(dispose(client, lot, qa), 201)


def lot_detail(client, lot: str, headers: dict) -> dict:
    return responses.ok(client.get(f"{API}/lots/{lot}", headers=headers), 200)


def lot_quality(client, lot: str, headers: dict) -> dict:
    return responses.ok(client.get(f"{API}/lots/{lot}/quality", headers=headers), 200)


def quality_test(client, lot: str, headers: dict, test: str) -> dict:
    return next(t for t in lot_quality(client, lot, headers)["tests"] if t["test"] == test)


def lot_state(client, lot: str, headers: dict) -> dict:
    shown = lot_detail(client, lot, headers)
    return {"status": shown["status"], "release": shown["release"]}


def pdf_text(pdf: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return " ".join(re.sub(r"\s+", " ", page.extract_text()) for page in pages)


def raw_post(client, url: str, text: str, headers: dict):
    return client.post(url, data=text, content_type="application/json", headers=headers)


def manifests_quinn(release: dict, meaning: str = "Approved for release") -> None:
    """The decision carries Quinn's signature (the `qa` fixture) with this meaning."""
    signature = release["signature"]
    assert (signature["printed_name"], signature["username"], signature["meaning"]) == (
        "Quinn Assurance",
        "quinn",
        meaning,
    )
    assert signature["signed_at"]
