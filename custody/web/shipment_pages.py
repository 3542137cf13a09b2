"""Shipment pages: manifest, courier handoff, logger temperatures with excursions, receipt."""

from flask import Blueprint

bp = Blueprint("shipping", __name__, template_folder="../templates")
