"""Marshmallow schemas at the edges: separate input (`...In`) and output (`...Out`) schemas."""
