"""The bedside page (ward): two-person verification, thaw countdown and the infusion record."""

from flask import Blueprint

bp = Blueprint("ward", __name__, template_folder="../templates")
