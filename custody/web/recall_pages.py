"""Placeholder: filled in by this change."""

from flask import Blueprint

bp = Blueprint("recall", __name__, template_folder="../templates")
