"""The cell lab's pages: the scan station and a bag's page."""

from flask import Blueprint

bp = Blueprint("lab", __name__, template_folder="../templates")
