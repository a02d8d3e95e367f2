//! Refunds: how much of a succeeded payment record may still be given back, and what one refund
//! takes. A refund gives back the invoice's part first; the processing fee the customer paid goes
//! back only with a full refund, and only when the setting `stripe_refund_processing_fee` says so
//! (Stripe keeps its own fee either way). What a refund gives back of the invoice's part is owed
//! again; its fee part is not. Pure; amounts are minor units of the payment's currency.

use super::money::{MinorUnits, MoneyError};

/// The refund email template, "Stripe Refund Confirmation" (beside the guide's 264 and 285 and the
/// card reminder's 286), as every tenant starts with it.
pub const TEMPLATE_ID: u32 = 287;
pub const TEMPLATE_NAME: &str = "Stripe Refund Confirmation";
pub const TEMPLATE_SUBJECT: &str = "Refund for invoice $INVOICENUMBER";
pub const TEMPLATE_BODY: &str = "<p>Dear $CUSTOMERNAME,</p>\n<p>We refunded $TOTAL of your payment \
     for invoice $INVOICENUMBER, paid with $PAYMENTMETHOD. It may take a few days to appear on your \
     statement.</p>";

/// The refund events the endpoint subscribes to: `charge.refunded` (a refund made, in Stripe's
/// dashboard too), and the Refund's own `refund.created` / `refund.updated` with its older name
/// `charge.refund.updated` (a refund that fails after all is an update to `failed`). All are in
/// the API version paydesk speaks (Stripe's OpenAPI description lists them as endpoint events).
pub const SUBSCRIBED: [&str; 4] = [
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
];

/// Every refund event paydesk applies: the subscribed ones, and `refund.failed`, which newer API
/// versions send to an endpoint that asks for it (the API version paydesk speaks has no such
/// event to subscribe to, so it is applied when it comes, never asked for).
pub const EVENT_TYPES: [&str; 5] = [
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
];

/// What one payment record can still give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refundable {
    /// What the record paid: amount and fee.
    pub paid: i64,
    /// Given back already or on its way (refunds that did not fail or get canceled).
    pub refunded: i64,
    /// The most one refund may be now.
    pub refundable: i64,
    /// Of `refundable`, the fee a full refund now gives back.
    pub fee_part: i64,
    /// Of `refundable`, the invoice's part (what is owed again once it is refunded).
    pub invoice_part: i64,
}

/// What a payment record of `amount` with `fee` can still give back, given its refunds that did
/// not fail or get canceled (`live`: each refund's amount and fee part) and whether a full refund
/// gives the fee back (`fee_back`).
pub fn refundable(
    amount: i64,
    fee: i64,
    live: &[(i64, i64)],
    fee_back: bool,
) -> Result<Refundable, MoneyError> {
    let paid = MinorUnits(amount).checked_add(MinorUnits(fee))?;
    let refunded = MinorUnits::checked_sum(live.iter().map(|(a, _)| MinorUnits(*a)))?;
    let fee_refunded = MinorUnits::checked_sum(live.iter().map(|(_, f)| MinorUnits(*f)))?;
    let invoice_refunded = refunded.checked_sub(fee_refunded)?;
    let invoice_part = MinorUnits(amount).checked_sub(invoice_refunded)?.0.max(0);
    let fee_part = if fee_back {
        MinorUnits(fee).checked_sub(fee_refunded)?.0.max(0)
    } else {
        0
    };
    Ok(Refundable {
        paid: paid.0,
        refunded: refunded.0,
        refundable: MinorUnits(invoice_part)
            .checked_add(MinorUnits(fee_part))?
            .0,
        fee_part,
        invoice_part,
    })
}

/// Why a refund can't be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefused {
    #[error("the amount to refund must be more than zero")]
    NotPositive,
    #[error("nothing of this payment is left to refund")]
    NothingLeft,
    #[error(
        "the amount to refund ({asked}) is more than the {refundable} that can still be refunded"
    )]
    MoreThanRefundable { asked: i64, refundable: i64 },
}

/// The amount of one refund and its fee part: `requested`, or all that is refundable when none is
/// asked for. The invoice's part goes first; only what exceeds it is fee.
pub fn to_refund(r: &Refundable, requested: Option<i64>) -> Result<(i64, i64), RefundRefused> {
    if r.refundable <= 0 {
        return Err(RefundRefused::NothingLeft);
    }
    let asked = requested.unwrap_or(r.refundable);
    if asked <= 0 {
        return Err(RefundRefused::NotPositive);
    }
    if asked > r.refundable {
        return Err(RefundRefused::MoreThanRefundable {
            asked,
            refundable: r.refundable,
        });
    }
    Ok((asked, (asked - r.invoice_part).max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_refund_gives_the_fee_back_only_when_the_setting_says_so() {
        let with_fee = refundable(10_000, 300, &[], true).unwrap();
        assert_eq!(with_fee.paid, 10_300);
        assert_eq!(with_fee.refundable, 10_300);
        assert_eq!(to_refund(&with_fee, None), Ok((10_300, 300)));
        let kept = refundable(10_000, 300, &[], false).unwrap();
        assert_eq!(kept.refundable, 10_000);
        assert_eq!(to_refund(&kept, None), Ok((10_000, 0)));
    }

    #[test]
    fn parts_take_the_invoice_first_and_add_up_to_at_most_what_was_paid() {
        let first = refundable(10_000, 300, &[], true).unwrap();
        assert_eq!(to_refund(&first, Some(4_000)), Ok((4_000, 0)));
        let second = refundable(10_000, 300, &[(4_000, 0)], true).unwrap();
        assert_eq!(second.refunded, 4_000);
        assert_eq!(second.refundable, 6_300);
        assert_eq!(second.invoice_part, 6_000);
        // The rest in full: the invoice's 6,000 and the fee.
        assert_eq!(to_refund(&second, None), Ok((6_300, 300)));
        // Into the fee only past the invoice's part.
        assert_eq!(to_refund(&second, Some(6_100)), Ok((6_100, 100)));
        assert_eq!(
            to_refund(&second, Some(6_301)),
            Err(RefundRefused::MoreThanRefundable {
                asked: 6_301,
                refundable: 6_300
            })
        );
        let done = refundable(10_000, 300, &[(4_000, 0), (6_300, 300)], true).unwrap();
        assert_eq!(done.refundable, 0);
        assert_eq!(to_refund(&done, None), Err(RefundRefused::NothingLeft));
    }

    #[test]
    fn nothing_or_less_is_no_refund_and_nothing_overflows() {
        let r = refundable(500, 0, &[], true).unwrap();
        assert_eq!(to_refund(&r, Some(0)), Err(RefundRefused::NotPositive));
        assert_eq!(to_refund(&r, Some(-1)), Err(RefundRefused::NotPositive));
        assert!(refundable(i64::MAX, 1, &[], true).is_err());
        assert!(refundable(10, 0, &[(i64::MAX, 0), (1, 0)], true).is_err());
    }

    #[test]
    fn a_dashboard_refund_of_more_than_the_invoice_part_counts_the_rest_as_fee() {
        // Someone refunded 10,100 of 10,000 + 300 in Stripe's dashboard (fee part 100): 200 of
        // the fee is left, and only with the setting.
        let r = refundable(10_000, 300, &[(10_100, 100)], true).unwrap();
        assert_eq!((r.invoice_part, r.fee_part, r.refundable), (0, 200, 200));
        let kept = refundable(10_000, 300, &[(10_100, 100)], false).unwrap();
        assert_eq!(kept.refundable, 0);
    }
}
