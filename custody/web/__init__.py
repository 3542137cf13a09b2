"""Browser pages: sign-in and the home page; each audience's station adds its blueprint here."""

from flask import Flask


def register_web(app: Flask) -> None:
    from custody.web import (
        audit_pages,
        bedside_pages,
        clinic_pages,
        demo_pages,
        display,
        lab_pages,
        label_template_pages,
        lookback_pages,
        overview_pages,
        qa_pages,
        recall_pages,
        search_pages,
        session_pages,
        shipment_pages,
        worklist_pages,
    )

    app.register_blueprint(session_pages.bp)
    app.register_blueprint(lab_pages.bp)
    app.register_blueprint(shipment_pages.bp)
    app.register_blueprint(qa_pages.bp)
    app.register_blueprint(label_template_pages.bp)
    app.register_blueprint(clinic_pages.bp)
    app.register_blueprint(bedside_pages.bp)
    app.register_blueprint(recall_pages.bp)
    app.register_blueprint(audit_pages.bp)
    app.register_blueprint(overview_pages.bp)
    app.register_blueprint(search_pages.bp)
    app.register_blueprint(worklist_pages.bp)
    display.register_display(app)
    app.register_blueprint(demo_pages.bp)
    app.register_blueprint(lookback_pages.bp)
