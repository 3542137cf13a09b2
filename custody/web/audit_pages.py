"""Placeholder: filled in by this change."""

from flask import Blueprint

bp = Blueprint("audit_review", __name__, template_folder="../templates")
