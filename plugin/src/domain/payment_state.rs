//! The payment state machine (DESIGN "Payments and their state", REQUIREMENTS B3): a payment
//! record mirrors its PaymentIntent and only moves forward. `succeeded` and `canceled` are final;
//! otherwise an observation replaces the held state only if it is newer (Stripe's event time, then
//! the state's rank), so duplicated and shuffled events end in the same state. Pure.

use super::vocabulary::PaymentStatus;

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
}
