"""The release certificate (certificate of analysis): issued once at signing, kept, served as is.

The PDF is rendered inside the signing transaction and its bytes and SHA-256 are stored with
the decision: fetching it again years later returns the very document QA's signature issued,
not a re-rendering from data that may since have been corrected.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from sqlalchemy import func, select

from custody.documents.certificate import (
    CertificateBag,
    CertificateData,
    CertificateDeviation,
    CertificateDonor,
    CertificateSignature,
    CertificateTest,
    render_certificate,
)
from custody.domain import eligibility, isbt128
from custody.domain.errors import IllegalTransition, NotFound
from custody.domain.release_rules import Criterion, criterion_words, number_words, verdict
from custody.extensions import db
from custody.models import Lot, QcResult, ReleaseDecision
from custody.services.bags.queries import lot_determinations
from custody.services.core.facility import establishment, product_name, site_zone
from custody.services.quality.lot_quality import criteria_of, current_results, readings_of
from custody.services.quality.release_signature import latest_decision

DISPOSITION_WORDS = {
    "released": "Released",
    "conditionally_released": "Conditionally released",
    "rejected": "Rejected",
}


def issue_certificate(decision: ReleaseDecision, lot: Lot) -> None:
    """Render the certificate of this decision and keep its bytes with it."""
    decision.certificate_number = _next_number(lot)
    pdf = render_certificate(certificate_data(decision, lot))
    decision.certificate_pdf = pdf
    decision.certificate_sha256 = hashlib.sha256(pdf).hexdigest()


def _next_number(lot: Lot) -> str:
    issued = db.session.scalar(
        select(func.count(ReleaseDecision.id)).where(
            ReleaseDecision.lot_id == lot.id, ReleaseDecision.certificate_number.is_not(None)
        )
    )
    return f"COA-{lot.lot_number}-{issued + 1}"


def certificate_pdf(lot_number: str) -> tuple[bytes, str]:
    """The certificate in force for the lot and its number; 409 while the lot awaits QA."""
    lot = db.session.scalar(select(Lot).where(Lot.lot_number == lot_number))
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    decision = latest_decision(lot)
    if decision is None or decision.certificate_pdf is None or decision.invalidated_at:
        # A lot back in quarantine has no certificate in force: the one its withdrawn
        # signature issued must not travel on as if it still held.
        raise IllegalTransition(
            f"Lot {lot_number} is in quarantine: a certificate is issued when QA releases or "
            "rejects it.",
            lot=lot_number,
            current_state=lot.disposition.value,
        )
    return decision.certificate_pdf, decision.certificate_number


def certificate_data(decision: ReleaseDecision, lot: Lot) -> CertificateData:
    """What the certificate prints, in the site's own words (name, address, zone, product)."""
    facility_name, facility_address = establishment()
    determination = lot_determinations({lot.id})[lot.id]
    criteria = criteria_of(lot)
    titles = {c.test: c.title for c in criteria}
    signature = decision.signature
    spec = lot.specification
    return CertificateData(
        certificate_number=decision.certificate_number,
        lot_number=lot.lot_number,
        product_name=product_name(),
        product_description_code=lot.product_description_code,
        specification=f"{spec.product_description_code} version {spec.version}" if spec else "none",
        facility_name=facility_name,
        facility_address=facility_address,
        timezone=site_zone().key,
        disposition=DISPOSITION_WORDS[decision.disposition],
        donors=tuple(
            CertificateDonor(
                din=d.din,
                check_character=isbt128.check_character(d.din),
                donor_code=d.donor.donor_code,
                eligibility=d.donor.eligibility.value,
            )
            for d in lot.donations
        ),
        warnings=tuple(eligibility.warnings_for(determination)),
        tests=tuple(_tests(criteria, current_results(lot))),
        bags=tuple(
            CertificateBag(
                code=b.code,
                product_code=b.product_code,
                division=b.division,
                volume_ml=b.volume_ml,
                viable_car_nk_cells=b.viable_car_nk_cells,
                total_cells=b.total_cells,
                dose_level=b.dose_level.code if b.dose_level else None,
            )
            for b in sorted(lot.bags, key=lambda b: b.product_code)
        ),
        deviations=tuple(
            CertificateDeviation(s.sequence, s.step, s.deviation_reason)
            for s in lot.steps
            if s.deviation
        ),
        signature=CertificateSignature(
            printed_name=signature.printed_name,
            username=signature.signer.username,
            signed_at=signature.signed_at,
            meaning=signature.meaning,
            reason=signature.reason,
        ),
        content_checksum=signature.content_hash,
        issued_at=decision.decided_at,
        manufactured_at=lot.manufactured_at,
        expires_at=lot.expires_at,
        pending_tests=tuple(titles.get(t, t) for t in decision.pending_tests),
        exceptional=(decision.physician, decision.physician_request, decision.justification)
        if decision.exceptional
        else None,
    )


def _tests(criteria: list[Criterion], results: list[QcResult]) -> list[CertificateTest]:
    by_test = {r.test: r for r in results}
    readings = readings_of(results)
    return [_test(c, by_test.get(c.test), verdict(c, readings.get(c.test))) for c in criteria]


def _test(c: Criterion, result: QcResult | None, judged: str) -> CertificateTest:
    """One line of the results table; a pending test has only its criterion and verdict."""
    line = CertificateTest(
        test=c.test,
        title=c.title,
        specification=criterion_words(c),
        result=result_words(result),
        verdict=judged,
        entered_by="",
        entered_at=None,
    )
    if result is None:
        return line
    return replace(
        line,
        entered_by=result.entered_by.full_name,
        entered_at=result.entered_at,
        method=result.method,
        instrument=result.instrument,
        note=_note(result),
        corrected=bool(result.correction_reason),
    )


def result_words(result: QcResult | None) -> str:
    if result is None:
        return ""
    if result.value_numeric is not None:
        unit = f" {result.unit}" if result.unit else ""
        return f"{number_words(result.value_numeric)}{unit}"
    return (result.value_text or "").capitalize()


def _note(result: QcResult | None) -> str:
    if result is None:
        return ""
    parts = []
    if result.correction_reason:
        parts.append(f"Corrected: {result.correction_reason}")
    if result.investigation_note:
        parts.append(f"Investigation: {result.investigation_note}")
    return " ".join(parts)
