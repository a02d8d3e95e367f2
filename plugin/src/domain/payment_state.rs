//! The payment state machine: a payment
//! record mirrors its PaymentIntent and only moves forward. `succeeded` and `canceled` are final;
//! otherwise an observation replaces the held state only if it is newer (Stripe's event time, then
//! the state's rank), so duplicated and shuffled events end in the same state. Pure.
//!
//! A dispute of a payment (`charge.dispute.*`) never moves the payment's own state — the money
//! arrived, and `succeeded` stays final — but is a state machine of its own beside it, by the same
//! rule: `won`, `lost` and `warning_closed` are final, and otherwise a newer observation (Stripe's
//! event time, then the status's rank) replaces the held one. A status Stripe adds later (one this
//! vocabulary has no row for) counts as open, below every known one.

use super::vocabulary::{DisputeStatus, PaymentStatus, RefundStatus};

/// The state machine's view of a status (the statuses themselves are in `domain::vocabulary`).
impl PaymentStatus {
    /// Final states never change again.
    pub fn is_final(self) -> bool {
        matches!(self, PaymentStatus::Succeeded | PaymentStatus::Canceled)
    }

    /// Order among states observed at the same instant.
    fn rank(self) -> u8 {
        match self {
            PaymentStatus::RequiresPaymentMethod => 0,
            PaymentStatus::RequiresAction => 1,
            PaymentStatus::Processing => 2,
            PaymentStatus::Failed => 3,
            PaymentStatus::Canceled | PaymentStatus::Succeeded => 4,
        }
    }

    /// In flight: Stripe may still move it without the payer (blocks another payment of the invoice).
    pub fn is_in_flight(self) -> bool {
        matches!(
            self,
            PaymentStatus::Processing | PaymentStatus::RequiresAction
        )
    }
}

/// The status a PaymentIntent's `status` (and whether it carries a `last_payment_error`) means.
pub fn from_intent(status: &str, has_payment_error: bool) -> Option<PaymentStatus> {
    Some(match status {
        "requires_payment_method" if has_payment_error => PaymentStatus::Failed,
        "requires_payment_method" | "requires_confirmation" => PaymentStatus::RequiresPaymentMethod,
        "requires_action" => PaymentStatus::RequiresAction,
        "processing" | "requires_capture" => PaymentStatus::Processing,
        "succeeded" => PaymentStatus::Succeeded,
        "canceled" => PaymentStatus::Canceled,
        _ => return None,
    })
}

/// The status a `payment_intent.*` event means.
pub fn from_event(event_type: &str) -> Option<PaymentStatus> {
    Some(match event_type {
        "payment_intent.succeeded" => PaymentStatus::Succeeded,
        "payment_intent.payment_failed" => PaymentStatus::Failed,
        "payment_intent.processing" => PaymentStatus::Processing,
        "payment_intent.canceled" => PaymentStatus::Canceled,
        "payment_intent.requires_action" => PaymentStatus::RequiresAction,
        _ => return None,
    })
}

/// Whether an observation of `new` at `new_at` replaces `current`, observed at `current_at`.
pub fn should_apply(
    current: PaymentStatus,
    current_at: Option<i64>,
    new: PaymentStatus,
    new_at: i64,
) -> bool {
    if current.is_final() {
        return false;
    }
    if new.is_final() {
        return true;
    }
    match current_at {
        None => true,
        Some(at) => (new_at, new.rank()) > (at, current.rank()),
    }
}

/// The dispute events paydesk acts on (their object is a Dispute).
pub const DISPUTE_EVENTS: [&str; 3] = [
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
];

/// Whether `event_type` is a dispute event paydesk acts on.
pub fn is_dispute_event(event_type: &str) -> bool {
    DISPUTE_EVENTS.contains(&event_type)
}

/// The dispute state machine's view of a status.
impl DisputeStatus {
    /// Decided (`won`, `lost`) or an inquiry that ended (`warning_closed`): never changes again.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            DisputeStatus::Won | DisputeStatus::Lost | DisputeStatus::WarningClosed
        )
    }

    /// An inquiry (`warning_*`): the cardholder's bank asks, no money has left yet.
    pub fn is_inquiry(self) -> bool {
        matches!(
            self,
            DisputeStatus::WarningNeedsResponse
                | DisputeStatus::WarningUnderReview
                | DisputeStatus::WarningClosed
        )
    }

    /// Order among statuses observed at the same instant: an inquiry, its review, a dispute, its
    /// review, closed.
    fn rank(self) -> u8 {
        match self {
            DisputeStatus::WarningNeedsResponse => 1,
            DisputeStatus::WarningUnderReview => 2,
            DisputeStatus::NeedsResponse => 3,
            DisputeStatus::UnderReview => 4,
            DisputeStatus::WarningClosed | DisputeStatus::Won | DisputeStatus::Lost => 5,
        }
    }
}

/// Rank of a status that may be one this vocabulary doesn't know (`None`: open, lowest).
fn dispute_rank(s: Option<DisputeStatus>) -> u8 {
    s.map_or(0, DisputeStatus::rank)
}

/// Whether an observation of a dispute in `new` at `new_at` replaces the one held, `held` (its
/// status, `None` for one this vocabulary doesn't know, and when it was observed), if any.
/// The host applies exactly this rule inside the transaction that writes the dispute.
pub fn dispute_should_apply(
    held: Option<(Option<DisputeStatus>, i64)>,
    new: Option<DisputeStatus>,
    new_at: i64,
) -> bool {
    match held {
        None => true,
        Some((Some(current), _)) if current.is_closed() => false,
        Some((current, at)) => (new_at, dispute_rank(new)) > (at, dispute_rank(current)),
    }
}

/// What a dispute in `status` means for the invoice's money: only a lost one makes its amount
/// owed again; won, open and inquiry ones leave the invoice as the payment left it.
pub fn dispute_owes_again(status: Option<DisputeStatus>) -> bool {
    status == Some(DisputeStatus::Lost)
}

impl RefundStatus {
    /// Nothing was (or will be) given back, for good: failed or canceled.
    pub fn is_void(self) -> bool {
        matches!(self, RefundStatus::Failed | RefundStatus::Canceled)
    }

    /// Order among statuses observed at the same instant: pending, waiting for the customer, then
    /// an outcome.
    fn rank(self) -> u8 {
        match self {
            RefundStatus::Pending => 1,
            RefundStatus::RequiresAction => 2,
            RefundStatus::Succeeded | RefundStatus::Failed | RefundStatus::Canceled => 3,
        }
    }
}

/// Whether an observation of a refund in `new` at `new_at` replaces the one held, `held` (its
/// status and when Stripe was last seen saying it; `None` for the time: claimed by paydesk, Stripe
/// has said nothing yet), if any. Stripe's clock orders them: a later observation wins, at the
/// same instant only a later state does. Failed and canceled are final; a succeeded refund can
/// still fail (Stripe reports a refund the customer's bank returned), never go back to pending.
/// The host applies exactly this rule inside the transaction that writes the refund.
pub fn refund_should_apply(
    held: Option<(RefundStatus, Option<i64>)>,
    new: RefundStatus,
    new_at: i64,
) -> bool {
    match held {
        None => true,
        Some((current, _)) if current.is_void() => false,
        Some((RefundStatus::Succeeded, _)) if !new.is_void() => false,
        Some((_, None)) => true,
        Some((current, Some(at))) => (new_at, new.rank()) > (at, current.rank()),
    }
}

/// Whether a refund moving from `held` to `new` changes what the invoice owes: `Some(true)` when
/// it now owes the refund again (it succeeded), `Some(false)` when a succeeded refund is undone.
pub fn refund_owes_again(held: Option<RefundStatus>, new: RefundStatus) -> Option<bool> {
    let was = held == Some(RefundStatus::Succeeded);
    let is = new == RefundStatus::Succeeded;
    (was != is).then_some(is)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    /// Apply observations in order, as the record would.
    fn run(events: &[(PaymentStatus, i64)]) -> PaymentStatus {
        let mut state = (RequiresPaymentMethod, None);
        for (s, at) in events {
            if should_apply(state.0, state.1, *s, *at) {
                state = (*s, Some(*at));
            }
        }
        state.0
    }

    /// Every ordering of `events` (each also duplicated) ends in `expected`.
    fn all_orders_end_in(events: &[(PaymentStatus, i64)], expected: PaymentStatus) {
        let doubled: Vec<_> = events.iter().chain(events.iter()).copied().collect();
        let n = doubled.len();
        let mut idx: Vec<usize> = (0..n).collect();
        // Heap's algorithm over the duplicated sequence.
        let mut c = vec![0; n];
        assert_eq!(run(&doubled), expected);
        let mut i = 0;
        while i < n {
            if c[i] < i {
                if i % 2 == 0 {
                    idx.swap(0, i)
                } else {
                    idx.swap(c[i], i)
                }
                let order: Vec<_> = idx.iter().map(|&k| doubled[k]).collect();
                assert_eq!(run(&order), expected, "order {order:?}");
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    }

    #[test]
    fn a_late_processing_never_undoes_success() {
        assert!(!should_apply(Succeeded, Some(10), Processing, 5));
        assert!(!should_apply(Succeeded, Some(10), Processing, 50));
    }

    #[test]
    fn card_with_authentication_ends_succeeded_in_every_order() {
        all_orders_end_in(
            &[(RequiresAction, 1), (Processing, 2), (Succeeded, 3)],
            Succeeded,
        );
    }

    #[test]
    fn failed_bank_debit_ends_failed_in_every_order() {
        all_orders_end_in(&[(Processing, 1), (Failed, 5)], Failed);
    }

    /// A bank debit (issue 17 item 4) sits in `processing` for days — read again by reconciliation
    /// and told again by Stripe — before its outcome; whatever the order, the outcome stands.
    #[test]
    fn a_bank_debit_processing_for_days_ends_in_its_outcome_in_every_order() {
        const DAY: i64 = 86_400;
        all_orders_end_in(
            &[
                (Processing, 1),
                (Processing, 2 * DAY),
                (Processing, 3 * DAY),
                (Succeeded, 4 * DAY),
            ],
            Succeeded,
        );
        // Returned by the bank after days: failed, and the invoice is payable again.
        all_orders_end_in(
            &[(Processing, 1), (Processing, 2 * DAY), (Failed, 5 * DAY)],
            Failed,
        );
        // A processing record is in flight (nothing else charges the invoice); failed is not.
        assert!(Processing.is_in_flight());
        assert!(!Failed.is_in_flight());
        assert!(!Failed.is_final());
        // Neither an older processing nor one of the same instant undoes the failure.
        assert!(!should_apply(Failed, Some(5 * DAY), Processing, 2 * DAY));
        assert!(!should_apply(Failed, Some(5 * DAY), Processing, 5 * DAY));
        assert_eq!(from_intent("processing", false), Some(Processing));
        assert_eq!(from_event("payment_intent.processing"), Some(Processing));
    }

    #[test]
    fn a_retry_after_failure_can_still_succeed() {
        all_orders_end_in(
            &[(Failed, 1), (RequiresAction, 2), (Succeeded, 3)],
            Succeeded,
        );
    }

    #[test]
    fn intents_map_to_record_states() {
        assert_eq!(from_intent("requires_payment_method", true), Some(Failed));
        assert_eq!(
            from_intent("requires_payment_method", false),
            Some(RequiresPaymentMethod)
        );
        assert_eq!(from_intent("succeeded", false), Some(Succeeded));
        assert_eq!(from_event("payment_intent.payment_failed"), Some(Failed));
        assert_eq!(from_event("charge.refunded"), None);
    }

    mod disputes {
        use super::super::*;
        use DisputeStatus::*;

        /// Apply dispute observations in order, as the host would; the status held at the end.
        fn run(events: &[(DisputeStatus, i64)]) -> Option<DisputeStatus> {
            let mut held: Option<(Option<DisputeStatus>, i64)> = None;
            for (s, at) in events {
                if dispute_should_apply(held, Some(*s), *at) {
                    held = Some((Some(*s), *at));
                }
            }
            held.and_then(|(s, _)| s)
        }

        /// Every ordering of `events`, each also delivered twice, ends in `expected`.
        fn all_orders_end_in(events: &[(DisputeStatus, i64)], expected: DisputeStatus) {
            let doubled: Vec<_> = events.iter().chain(events.iter()).copied().collect();
            let n = doubled.len();
            let mut idx: Vec<usize> = (0..n).collect();
            let mut c = vec![0; n];
            assert_eq!(run(&doubled), Some(expected));
            let mut i = 0;
            while i < n {
                if c[i] < i {
                    if i % 2 == 0 {
                        idx.swap(0, i)
                    } else {
                        idx.swap(c[i], i)
                    }
                    let order: Vec<_> = idx.iter().map(|&k| doubled[k]).collect();
                    assert_eq!(run(&order), Some(expected), "order {order:?}");
                    c[i] += 1;
                    i = 0;
                } else {
                    c[i] = 0;
                    i += 1;
                }
            }
        }

        #[test]
        fn a_dispute_opened_reviewed_and_lost_ends_lost_in_every_order() {
            all_orders_end_in(&[(NeedsResponse, 1), (UnderReview, 2), (Lost, 3)], Lost);
        }

        #[test]
        fn a_dispute_won_ends_won_in_every_order() {
            all_orders_end_in(&[(NeedsResponse, 1), (UnderReview, 5), (Won, 9)], Won);
        }

        #[test]
        fn an_inquiry_that_closes_ends_closed_in_every_order() {
            all_orders_end_in(
                &[
                    (WarningNeedsResponse, 1),
                    (WarningUnderReview, 2),
                    (WarningClosed, 3),
                ],
                WarningClosed,
            );
        }

        #[test]
        fn an_older_observation_after_a_newer_one_changes_nothing() {
            let held = Some((Some(UnderReview), 20));
            assert!(!dispute_should_apply(held, Some(NeedsResponse), 10));
            // The same observation again (a second delivery) changes nothing either.
            assert!(!dispute_should_apply(held, Some(UnderReview), 20));
            assert!(dispute_should_apply(held, Some(UnderReview), 21));
        }

        #[test]
        fn closed_disputes_are_final_even_against_a_later_observation() {
            for closed in [Won, Lost, WarningClosed] {
                let held = Some((Some(closed), 10));
                for s in DisputeStatus::ALL {
                    assert!(
                        !dispute_should_apply(held, Some(s), 99),
                        "{closed:?} → {s:?}"
                    );
                }
                assert!(!dispute_should_apply(held, None, 99));
            }
        }

        #[test]
        fn at_the_same_instant_the_later_stage_wins() {
            assert!(dispute_should_apply(
                Some((Some(NeedsResponse), 5)),
                Some(Lost),
                5
            ));
            assert!(!dispute_should_apply(
                Some((Some(UnderReview), 5)),
                Some(NeedsResponse),
                5
            ));
        }

        #[test]
        fn a_status_stripe_adds_later_is_open_and_below_the_known_ones() {
            assert!(dispute_should_apply(None, None, 1));
            assert!(dispute_should_apply(
                Some((None, 1)),
                Some(NeedsResponse),
                1
            ));
            assert!(!dispute_should_apply(
                Some((Some(NeedsResponse), 1)),
                None,
                1
            ));
            assert!(dispute_should_apply(
                Some((Some(NeedsResponse), 1)),
                None,
                2
            ));
        }

        #[test]
        fn only_a_lost_dispute_makes_money_owed_again() {
            for s in DisputeStatus::ALL {
                assert_eq!(dispute_owes_again(Some(s)), s == Lost, "{s:?}");
            }
            assert!(!dispute_owes_again(None));
            assert!(Lost.is_closed() && Won.is_closed() && WarningClosed.is_closed());
            assert!(!NeedsResponse.is_closed() && !UnderReview.is_closed());
            assert!(WarningClosed.is_inquiry() && !Lost.is_inquiry());
        }

        #[test]
        fn dispute_events_are_not_payment_events() {
            // A dispute never moves the payment record's own state: a succeeded payment stays
            // succeeded (its money arrived), and the dispute is recorded beside it.
            for e in DISPUTE_EVENTS {
                assert!(is_dispute_event(e));
                assert_eq!(from_event(e), None);
            }
            assert!(!is_dispute_event("charge.dispute.funds_withdrawn"));
            assert!(!should_apply(
                PaymentStatus::Succeeded,
                Some(1),
                PaymentStatus::Failed,
                2
            ));
        }
    }

    mod refunds {
        use super::super::*;
        use RefundStatus::*;

        /// Apply observations in order from a fresh claim, as the record would.
        fn run(events: &[(RefundStatus, i64)]) -> RefundStatus {
            let mut held = (Pending, None);
            for (s, at) in events {
                if refund_should_apply(Some(held), *s, *at) {
                    held = (*s, Some(*at));
                }
            }
            held.0
        }

        #[test]
        fn a_later_observation_wins_and_outcomes_hold() {
            assert_eq!(run(&[(Pending, 10), (Succeeded, 11)]), Succeeded);
            // A stale pending never undoes the outcome.
            assert_eq!(run(&[(Succeeded, 11), (Pending, 10)]), Succeeded);
            assert_eq!(run(&[(Succeeded, 11), (Pending, 12)]), Succeeded);
            // At the same instant the later state wins, whichever arrives first.
            assert_eq!(run(&[(Succeeded, 10), (Pending, 10)]), Succeeded);
            assert_eq!(run(&[(RequiresAction, 10), (Pending, 10)]), RequiresAction);
            // A succeeded refund can still fail; failed and canceled are final.
            assert_eq!(run(&[(Succeeded, 10), (Failed, 20)]), Failed);
            assert_eq!(run(&[(Failed, 20), (Succeeded, 30)]), Failed);
            assert_eq!(run(&[(Canceled, 5), (Succeeded, 30)]), Canceled);
            // A claim Stripe has said nothing of takes any first observation, even an old one.
            assert!(refund_should_apply(Some((Pending, None)), Pending, 1));
            assert!(refund_should_apply(None, Failed, 1));
        }

        #[test]
        fn only_moves_into_or_out_of_succeeded_change_what_is_owed() {
            assert_eq!(refund_owes_again(Some(Pending), Succeeded), Some(true));
            assert_eq!(refund_owes_again(None, Succeeded), Some(true));
            assert_eq!(refund_owes_again(Some(Succeeded), Failed), Some(false));
            assert_eq!(refund_owes_again(Some(Succeeded), Succeeded), None);
            assert_eq!(refund_owes_again(Some(Pending), Failed), None);
            assert_eq!(refund_owes_again(None, Pending), None);
        }
    }
}
