//! Autopay caps: the most an automatic charge may be, tenant-wide (`autopay_max_amount`) and per
//! customer (`stripe_autopay_max_amount`). Both hold — the lower binds — and a charge above either
//! is not made automatically: the daily run skips it with the reason this module writes. Caps are
//! money in the tenant's currency (`stripe_currency`); a charge in another currency can't be
//! compared with them, so it is not made automatically either. Integer minor units only. Pure.

use super::money::{Currency, Money};

/// Whose cap it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapOwner {
    /// The tenant's `autopay_max_amount`.
    Tenant,
    /// The customer's `stripe_autopay_max_amount`.
    Customer,
}

impl CapOwner {
    fn label(self) -> &'static str {
        match self {
            CapOwner::Tenant => "the automatic payment cap of every customer",
            CapOwner::Customer => "this customer's automatic payment cap",
        }
    }
}

/// One cap: its owner, and its amount in minor units of `currency` (the tenant's currency when it
/// was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub owner: CapOwner,
    pub amount: i64,
    pub currency: Currency,
}

/// What would be charged automatically: the total, with its parts for the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub total: Money,
    pub amount_due: Money,
    pub fee: Money,
}

/// Why `charge` may not be made automatically under `caps`, or `None` when every cap allows it.
/// A charge equal to a cap is allowed; one in another currency than a cap is not.
pub fn refused_by_caps(charge: &Charge, caps: &[Cap]) -> Option<String> {
    let total = charge.total;
    let parts = if charge.fee.amount.0 == 0 {
        format!("{total}")
    } else {
        format!("{total} ({} due + {} fee)", charge.amount_due, charge.fee)
    };
    // The binding cap first: a currency mismatch, else the lowest cap exceeded.
    if let Some(cap) = caps.iter().find(|c| c.currency != total.currency) {
        return Some(format!(
            "{parts} can't be compared with {} of {}: it is in another currency; charge it manually",
            cap.owner.label(),
            Money::new(cap.amount, cap.currency)
        ));
    }
    let lowest = caps
        .iter()
        .filter(|c| total.amount.0 > c.amount)
        .min_by_key(|c| c.amount)?;
    Some(format!(
        "{parts} is above {} of {}: not charged automatically; charge it manually or raise the cap",
        lowest.owner.label(),
        Money::new(lowest.amount, lowest.currency)
    ))
}

/// The largest cap that may be set: Stripe's largest charge (eight digits of minor units).
pub const MAX_CAP: i64 = super::limits::MAXIMUM_CHARGE.0;

/// Why `amount` is not a cap that may be set, or `None`.
pub fn cap_error(amount: i64) -> Option<String> {
    if amount < 1 {
        Some("a cap is at least 1 minor unit; to stop automatic payments, turn them off instead (leave it empty for no cap)".into())
    } else if amount > MAX_CAP {
        Some(format!(
            "at most {MAX_CAP} minor units, Stripe's largest charge (leave it empty for no cap)"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::parse("usd").unwrap())
    }

    fn charge(due: i64, fee: i64) -> Charge {
        Charge {
            total: usd(due + fee),
            amount_due: usd(due),
            fee: usd(fee),
        }
    }

    fn cap(owner: CapOwner, amount: i64, currency: &str) -> Cap {
        Cap {
            owner,
            amount,
            currency: Currency::parse(currency).unwrap(),
        }
    }

    #[test]
    fn a_charge_up_to_every_cap_is_allowed() {
        let caps = [
            cap(CapOwner::Tenant, 100_000, "usd"),
            cap(CapOwner::Customer, 10_290, "usd"),
        ];
        assert_eq!(refused_by_caps(&charge(10_000, 290), &caps), None);
        assert_eq!(refused_by_caps(&charge(10_000, 290), &[]), None);
    }

    #[test]
    fn one_minor_unit_above_the_lower_cap_is_refused_naming_that_cap() {
        let caps = [
            cap(CapOwner::Tenant, 10_000, "usd"),
            cap(CapOwner::Customer, 50_000, "usd"),
        ];
        let reason = refused_by_caps(&charge(9_800, 201), &caps).unwrap();
        assert_eq!(
            reason,
            "USD 100.01 (USD 98.00 due + USD 2.01 fee) is above the automatic payment cap of every customer of USD 100.00: not charged automatically; charge it manually or raise the cap"
        );
        let caps = [
            cap(CapOwner::Tenant, 50_000, "usd"),
            cap(CapOwner::Customer, 10_000, "usd"),
        ];
        let reason = refused_by_caps(&charge(60_000, 0), &caps).unwrap();
        assert!(
            reason.starts_with(
                "USD 600.00 is above this customer's automatic payment cap of USD 100.00"
            ),
            "{reason}"
        );
    }

    #[test]
    fn a_charge_in_another_currency_than_a_cap_is_refused() {
        let caps = [cap(CapOwner::Tenant, 1_000_000, "jpy")];
        let reason = refused_by_caps(&charge(100, 0), &caps).unwrap();
        assert!(reason.contains("another currency"), "{reason}");
        assert!(reason.contains("JPY 1000000"), "{reason}");
    }

    #[test]
    fn caps_are_between_one_minor_unit_and_stripes_largest_charge() {
        assert!(cap_error(0).is_some());
        assert!(cap_error(-5).is_some());
        assert!(cap_error(1).is_none());
        assert!(cap_error(99_999_999).is_none());
        assert!(cap_error(100_000_000).is_some());
        assert!(cap_error(i64::MAX).is_some());
    }
}
