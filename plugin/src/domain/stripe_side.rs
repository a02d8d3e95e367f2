//! Changes made on Stripe's side that flow back to a customer's automatic payment method: which
//! events they are, and what each asks for. Pure: the flow (`flows::stripe_side`) reads the
//! customer and the payment method, and writes what is decided here; the host orders the writes by
//! Stripe's clock.

use super::vocabulary::PaymentMethodType;

/// The Stripe events about a customer's payment methods that paydesk applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `payment_method.detached`: the method left its customer (in Stripe's customer portal or
    /// dashboard); the automatic method it was is cleared.
    Detached,
    /// `payment_method.updated`: new details (a new expiry from the card account updater); the
    /// automatic method it is gets its new display name.
    MethodUpdated,
    /// `customer.updated`: a new default payment method for invoices (Stripe's customer portal)
    /// becomes the automatic method when its type is imported.
    CustomerUpdated,
}

/// Every event type of [`Change`], as Stripe names them (for the webhook endpoint).
pub const EVENT_TYPES: [&str; 3] = [
    "payment_method.detached",
    "payment_method.updated",
    "customer.updated",
];

/// The change an event type stands for, when paydesk applies it.
pub fn change_of(event_type: &str) -> Option<Change> {
    match event_type {
        "payment_method.detached" => Some(Change::Detached),
        "payment_method.updated" => Some(Change::MethodUpdated),
        "customer.updated" => Some(Change::CustomerUpdated),
        _ => None,
    }
}

/// What a `customer.updated` says of the default payment method for invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultChange {
    /// The update was about something else (its `previous_attributes` do not name the default).
    Unchanged,
    /// The default was removed; the automatic method stays (a detached method clears it).
    Removed,
    /// The default is now this payment method.
    To(String),
}

/// `previous_default` is whether `previous_attributes.invoice_settings.default_payment_method` is
/// in the event (its value does not matter); `default` is the customer's default now.
pub fn default_change(previous_default: bool, default: Option<&str>) -> DefaultChange {
    match (previous_default, default) {
        (false, _) => DefaultChange::Unchanged,
        (true, None) => DefaultChange::Removed,
        (true, Some(pm)) => DefaultChange::To(pm.to_string()),
    }
}

/// Why a new default payment method can't become the automatic one, if it can't: it must be
/// attached to the customer's own Stripe customer and of a type the tenant imports.
pub fn refusal(
    pm_id: &str,
    method_type: &str,
    attached_to: Option<&str>,
    stripe_customer: &str,
    imported: &[PaymentMethodType],
) -> Option<String> {
    if attached_to != Some(stripe_customer) {
        return Some(format!(
            "{pm_id} is not attached to Stripe customer {stripe_customer}; the automatic payment method stays"
        ));
    }
    let known = PaymentMethodType::from_wire_name(method_type);
    if known.is_some_and(|t| imported.contains(&t)) {
        return None;
    }
    let kind = known.map_or(method_type, |t| t.label());
    Some(format!(
        "{pm_id} is a {kind}, which is not among the payment method types imported from Stripe; \
         the automatic payment method stays"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_event_types_are_changes_and_nothing_else_is() {
        for t in EVENT_TYPES {
            assert!(change_of(t).is_some(), "{t}");
        }
        assert_eq!(change_of("payment_method.detached"), Some(Change::Detached));
        assert_eq!(
            change_of("payment_method.updated"),
            Some(Change::MethodUpdated)
        );
        assert_eq!(change_of("customer.updated"), Some(Change::CustomerUpdated));
        for t in [
            "payment_method.attached",
            "customer.created",
            "customer.deleted",
            "payment_intent.succeeded",
            "",
        ] {
            assert_eq!(change_of(t), None, "{t}");
        }
    }

    #[test]
    fn only_an_update_naming_the_previous_default_changes_the_default() {
        assert_eq!(
            default_change(false, Some("pm_1")),
            DefaultChange::Unchanged
        );
        assert_eq!(default_change(false, None), DefaultChange::Unchanged);
        assert_eq!(default_change(true, None), DefaultChange::Removed);
        assert_eq!(
            default_change(true, Some("pm_2")),
            DefaultChange::To("pm_2".into())
        );
    }

    #[test]
    fn an_attached_method_of_an_imported_type_is_adopted() {
        let imported = [PaymentMethodType::Card, PaymentMethodType::SepaDebit];
        assert_eq!(
            refusal("pm_1", "card", Some("cus_1"), "cus_1", &imported),
            None
        );
        assert_eq!(
            refusal("pm_1", "sepa_debit", Some("cus_1"), "cus_1", &imported),
            None
        );
    }

    #[test]
    fn a_method_of_a_type_not_imported_is_refused_naming_the_type() {
        let imported = [PaymentMethodType::Card];
        let why = refusal("pm_2", "sepa_debit", Some("cus_1"), "cus_1", &imported).unwrap();
        assert!(why.contains("pm_2 is a SEPA Debit"), "{why}");
        assert!(
            why.contains("not among the payment method types imported"),
            "{why}"
        );
        let why = refusal("pm_3", "klarna", Some("cus_1"), "cus_1", &imported).unwrap();
        assert!(why.contains("pm_3 is a klarna"), "{why}");
    }

    #[test]
    fn a_method_of_another_customer_or_none_is_refused() {
        let imported = [PaymentMethodType::Card];
        let why = refusal("pm_4", "card", Some("cus_2"), "cus_1", &imported).unwrap();
        assert!(
            why.contains("not attached to Stripe customer cus_1"),
            "{why}"
        );
        assert!(refusal("pm_4", "card", None, "cus_1", &imported).is_some());
    }
}
