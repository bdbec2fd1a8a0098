"""What each figure of a period object is, in one sentence: the OpenAPI descriptions and the /metrics
help texts read it from here, so that both say the same, and both say which figures are press-style.

Decision 766's figures (the `portal_*` counters and `on_time_rate`, which is indicator 2.1) are the
official ones. The press-style figures are what one-stop software reports and the press quotes: they
count on the day a filing is resolved or returned, and judge open filings now (docs/figures.md, "The
press-style counters beside them"); they are labelled so wherever they are shown.
"""

from __future__ import annotations

from services.api.rollup import FIGURES

PRESS_STYLE = frozenset({
    "resolved_early", "resolved_on_time", "resolved_late", "resolved_total",
    "returned_rejected", "returned_supplement_requested", "returned_withdrawn", "returned_stopped",
    "returned_total", "resolution_seconds", "avg_resolution_hours",
    "pending_within_due", "pending_overdue",
})
PRESS_PREFIX = "Press-style (what one-stop software reports; not Decision 766): "

_LABELS = {
    "received_total": "Filings received in the period.",
    "received_online": "Filings received online in the period.",
    "received_in_person": "Filings received in person in the period.",
    "received_postal": "Filings received by post in the period.",
    "resolved_early": "Filings resolved before their due day in the period.",
    "resolved_on_time": "Filings resolved on their due day, by the due time, in the period.",
    "resolved_late": "Filings resolved after their due time in the period.",
    "resolved_total": "Filings resolved in the period.",
    "returned_rejected": "Filings rejected in the period.",
    "returned_supplement_requested": "Supplement requests in the period.",
    "returned_withdrawn": "Filings withdrawn by the applicant in the period.",
    "returned_stopped": "Filings whose processing was stopped in the period.",
    "returned_total": "Filings returned (closed without a result, or sent back for a supplement) in the "
                      "period.",
    "resolution_seconds": "Sum of the resolution times of the filings resolved in the period.",
    "payment_reported": "Filings received in the period that report whether they were paid online.",
    "payment_online": "Filings received in the period paid online.",
    "digitised_reported": "Filings received in the period that report whether they were digitised "
                          "(4.2's 'reported').",
    "digitised_yes": "Filings received in the period that were digitised.",
    "portal_on_time": "Decision 766, 2.1: filings received in the period whose verdict is fixed and on time.",
    "portal_overdue": "Decision 766, 2.1: filings received in the period whose verdict is fixed and overdue.",
    "portal_completed": "Decision 766, 2.2: filings received in the period with an ending status.",
    "portal_processing_seconds": "Decision 766, 2.2: processing time of the filings received in the period "
                                 "with an ending status, summed.",
    "portal_online": "Decision 766, 3.3: filings received online in the period (with an electronic result "
                     "where the result is a paper document).",
    "full_online_filings": "Decision 766: filings received in the period through a full-online service.",
    "full_online_eligible": "Decision 766: filings received in the period eligible for full-online service.",
    "full_online_reported": "Filings received in the period that report the full-online fields.",
    "fee_filings": "Decision 766, 3.6: filings received in the period with a fee due.",
    "fee_paid_online": "Decision 766, 3.6: filings received in the period paid online.",
    "fee_reported": "Filings received in the period that report the fee or online-payment fields.",
    "paper_result_filings": "Decision 766, 4.1: filings received in the period whose result is a paper "
                            "document.",
    "electronic_result_filings": "Decision 766, 4.1: of those, filings whose result was also issued "
                                 "electronically.",
    "paper_result_reported": "Filings received in the period that report whether the result is paper.",
    "portal_digitised": "Decision 766, 4.2: filings received in the period digitised (with an electronic "
                        "result where the result is a paper document).",
    "data_reused_filings": "Decision 766, 4.3: filings received in the period that reused digitised data.",
    "data_reused_reported": "Filings received in the period that report data reuse.",
    "personal_store_filings": "Decision 766, 4.4: filings received in the period linked to the "
                              "applicant's data store on the national portal.",
    "personal_store_reported": "Filings received in the period that report the personal data store.",
    "population_db_filings": "Decision 766, 4.5b: filings received in the period that used the "
                             "population database.",
    "population_db_reported": "Filings received in the period that report the population database.",
    "ratings": "Decision 766, 5.4: ratings of filings received in the period.",
    "ratings_satisfied": "Decision 766, 5.4: satisfied ratings of filings received in the period.",
    "pending_within_due": "Filings pending and not yet due, now.",
    "pending_overdue": "Filings pending past their due time, now.",
    "portal_pending_on_time": "Decision 766, 2.1: filings received in the period still open and on time "
                              "at the period's cutoff.",
    "portal_pending_overdue": "Decision 766, 2.1: filings received in the period still open and overdue "
                              "at the period's cutoff.",
    "online_rate": "Filings received online / all received.",
    "on_time_rate": "The headline on-time rate: Decision 766 indicator 2.1 as the national portal "
                    "computes it, (portal_on_time + portal_pending_on_time) / received_total.",
    "avg_resolution_hours": "Average resolution time of the filings resolved in the period.",
    "online_payment_share": "Payments made online / payments reported.",
    "digitised_share": "Filings digitised / filings reporting it.",
}
assert set(_LABELS) == set(FIGURES), "every figure has a label"


def label(figure: str) -> str:
    """The figure's sentence, prefixed "Press-style …" for a press-style figure."""
    return (PRESS_PREFIX if figure in PRESS_STYLE else "") + _LABELS[figure]
