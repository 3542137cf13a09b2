"""An infused bag's vein-to-vein timeline, read from the records its journey wrote: every step
in order with its people, places and temperatures, the chain of identity from donor to
recipient, and the excursion and the deviation flagged on their steps (the journey is in
custody_journey.py)."""

from __future__ import annotations

from datetime import timedelta

from custody.domain.isbt128 import check_character, eye_readable_din
from tests.services.traceability.custody_journey import (
    DEVIATION,
    EXPECTED_ACTIONS,
    FACILITY,
    PEAK_C,
    flags_of,
    infused_journey,
    timeline_of,
)


def test_an_infused_bag_has_every_step_in_order_with_people_places_and_temperatures(
    make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)

    timeline = timeline_of(journey.code)

    steps = timeline.steps
    assert [s.action for s in steps] == EXPECTED_ACTIONS
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    by = {s.action: s for s in steps}
    assert (by["collect"].place, by["collect"].zone) == (FACILITY, "Europe/Berlin")
    assert ("DIN", f"{eye_readable_din(journey.din)} [{check_character(journey.din)}]") in by[
        "collect"
    ].details
    receipt = by["receive_collection"]
    assert (receipt.person, receipt.temperature_c) == (journey.tech, 6.5)
    assert ("Condition", "intact, cool box sealed") in receipt.details
    first, second = (s for s in steps if s.action == "batch_step")
    assert first.title == "Manufacturing step 1: NK expansion start"
    assert first.person == journey.tech and ("Equipment", "BSC-02 cabinet") in first.details
    assert ("Materials", "reagent IL-2 lot IL2-2604") in first.details
    assert second.title == "Manufacturing step 2: CAR transduction" and first.flags == []
    assert (by["quarantine"].temperature_c, by["store"].temperature_c) == (4.0, -185.0)
    assert by["store"].place.startswith(journey.position)
    assert by["store"].place.endswith("Position 1")
    # Scans that leave the bag where it lies place it in its storage position.
    assert by["release"].place == by["allocate"].place == by["store"].place
    assert by["released"].person == journey.signer
    assert ("Meaning", "Approved for release") in by["released"].details
    assert by["allocate"].person == journey.allocator
    assert by["allocate"].details[0][1].startswith(f"{journey.subject_id}, infusion 1")
    assert by["pack"].temperature_c == -186.0
    assert by["pack"].place == f"Shipment {journey.shipment} to {journey.site}"
    handoff = by["handoff"]
    assert (handoff.temperature_c, handoff.person) == (-190.0, journey.tech)
    assert ("Hand-over", "Cell lab: Tess Okafor → Cryo Couriers (Sam Rivera)") in handoff.details
    assert (by["receive"].place, by["receive"].person) == (journey.site, journey.nurse)
    assert by["receive"].temperature_c == -184.0
    assert by["thaw"].temperature_c == 37.0
    assert any(label == "Use by" for label, _ in by["thaw"].details)
    both = f"{journey.nurse} and {journey.second_nurse}"
    assert by["verify"].person == both and by["infuse"].person == both
    assert ("Volume infused", "19.5 mL") in by["infuse"].details
    assert ("Recipient", f"{journey.subject_id}, infusion 1") in by["infuse"].details
    assert by["infuse"].place.startswith(journey.site)
    # The intervals between steps, and which steps say where the bag itself was.
    assert steps[0].since_previous is None
    assert all(s.since_previous >= timedelta(0) for s in steps[1:])
    assert [s.custody for s in steps].count(True) == 12  # from filling to infusion


def test_the_chain_of_identity_runs_from_donor_to_recipient(make, quality, clinic, make_lot):
    journey = infused_journey(make, quality, clinic, make_lot)

    timeline = timeline_of(journey.code)

    chain = [(link.role, link.value) for link in timeline.identity]
    din = f"{eye_readable_din(journey.din)} [{check_character(journey.din)}]"
    assert chain == [
        ("donor", journey.donor),
        ("donation", din),
        ("lot", journey.lot),
        ("bag", journey.code),
        ("recipient", journey.subject_id),
    ]
    assert timeline.identity[-1].note.startswith("infused: infusion 1")
    assert (timeline.recipient, timeline.status, timeline.disposition) == (
        journey.subject_id,
        "infused",
        "released",
    )
    assert timeline.release["signature"]["printed_name"] == "Lukas Meyer"
    assert timeline.release["signature_valid"] is True


def test_the_excursion_and_the_deviation_are_flagged_on_their_steps(
    make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)

    timeline = timeline_of(journey.code)

    ((step, excursion),) = flags_of(timeline, "excursion")
    assert (step.action, step.shipment, excursion.severity) == (
        "receive",
        journey.shipment,
        "alert",
    )
    assert f"Shipment {journey.shipment} was above -150 °C" in excursion.words
    assert f"peak {PEAK_C:.1f} °C in 1 reading" in excursion.words
    assert any(label == "Logger" and "2 readings" in value for label, value in step.details)
    ((step, deviation),) = flags_of(timeline, "deviation")
    assert (step.title, deviation.words) == ("Manufacturing step 2: CAR transduction", DEVIATION)
    assert deviation.label == "DEVIATION" and deviation.severity == "warning"
    # Nothing else: the bag never sat unrecorded, and QA's signature holds.
    assert {flag.kind for _, flag in timeline.flags} == {"excursion", "deviation"}
