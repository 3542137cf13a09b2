"""Clinic pages (ward and trial office): the dashboard of what is due, a recipient's
calendar, allocation and de-allocation."""

from flask import Blueprint

bp = Blueprint("clinic", __name__, template_folder="../templates")
