//! Expiring automatic cards: whether a card expires in the month of a day or the next (a card is
//! good through the last day of its expiry month), and the key that lets its reminder go once per
//! card and month — the outbox's unique dedup key holds that, in the host's database, whichever
//! host runs the day. Pure; dates are `YYYY-MM-DD`.

/// The reminder's email template, "Stripe Card Expiring" (beside the guide's 264 and 285), as
/// every tenant starts with it; variables `$CUSTOMERNAME`, `$PAYMENTMETHOD`, `$EXPIRY` (`MM/YYYY`)
/// and `$PORTALLINK`.
pub const TEMPLATE_ID: u32 = 286;
pub const TEMPLATE_NAME: &str = "Stripe Card Expiring";
pub const TEMPLATE_SUBJECT: &str = "Your card $PAYMENTMETHOD expires soon";
pub const TEMPLATE_BODY: &str = "<p>Dear $CUSTOMERNAME,</p>\n<p>The card we charge your invoices to automatically, $PAYMENTMETHOD, expires at the end of $EXPIRY. Please add a new payment method before then, so that your next payment goes through.</p>\n<p>$PORTALLINK</p>";

/// When a card expires, seen from a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiring {
    /// In the day's month: the card's last month.
    ThisMonth,
    /// In the month after.
    NextMonth,
}

/// (year, month) of a `YYYY-MM-DD` date.
fn year_month(date: &str) -> Option<(i64, i64)> {
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    (1..=12).contains(&m).then_some((y, m))
}

/// Whether a card expiring `exp_month`/`exp_year` expires in `today`'s month or the next; `None`
/// for a card expiring later, one already expired, or values that are no month.
pub fn expiring(today: &str, exp_month: u32, exp_year: u32) -> Option<Expiring> {
    let (y, m) = year_month(today)?;
    if !(1..=12).contains(&exp_month) {
        return None;
    }
    let months = |year: i64, month: i64| year.checked_mul(12)?.checked_add(month - 1);
    let delta = months(i64::from(exp_year), i64::from(exp_month))?.checked_sub(months(y, m)?)?;
    match delta {
        0 => Some(Expiring::ThisMonth),
        1 => Some(Expiring::NextMonth),
        _ => None,
    }
}

/// The dedup key of the reminder for card `pm_id` in `today`'s month: one email per card and month.
pub fn reminder_key(pm_id: &str, today: &str) -> String {
    format!("card-expiring/{pm_id}/{}", today.get(..7).unwrap_or(today))
}

/// `MM/YYYY`, as cards print it.
pub fn shown(exp_month: u32, exp_year: u32) -> String {
    format!("{exp_month:02}/{exp_year}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_expiring_this_month_or_next_is_expiring_and_no_other() {
        assert_eq!(expiring("2026-12-01", 12, 2026), Some(Expiring::ThisMonth));
        assert_eq!(expiring("2026-12-31", 1, 2027), Some(Expiring::NextMonth));
        assert_eq!(expiring("2026-11-15", 12, 2026), Some(Expiring::NextMonth));
        assert_eq!(expiring("2026-12-01", 2, 2027), None);
        assert_eq!(expiring("2026-12-01", 11, 2026), None, "already expired");
        assert_eq!(expiring("2026-12-01", 12, 2025), None);
        assert_eq!(expiring("2026-12-01", 13, 2026), None);
        assert_eq!(expiring("2026-12-01", 0, 2026), None);
        assert_eq!(expiring("not a date", 12, 2026), None);
        assert_eq!(expiring("2026-12-01", 12, u32::MAX), None);
    }

    #[test]
    fn the_reminder_key_is_per_card_and_month() {
        assert_eq!(
            reminder_key("pm_1", "2026-12-01"),
            reminder_key("pm_1", "2026-12-31")
        );
        assert_ne!(
            reminder_key("pm_1", "2026-12-31"),
            reminder_key("pm_1", "2027-01-01")
        );
        assert_ne!(
            reminder_key("pm_1", "2026-12-01"),
            reminder_key("pm_2", "2026-12-01")
        );
        assert_eq!(
            reminder_key("pm_1", "2026-12-01"),
            "card-expiring/pm_1/2026-12"
        );
        assert_eq!(shown(1, 2027), "01/2027");
    }
}
