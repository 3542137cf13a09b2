"""Placeholder: filled in by this change."""

from flask import Blueprint

bp = Blueprint("lab_overview", __name__, template_folder="../templates")
