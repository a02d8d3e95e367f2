//! Refunds of payment records in SQLite (the contract's `helpdesk.claim-refund`, `record-refund`,
//! `list-refunds` and `can-refund`): one row per refund and payment record. A claim is checked
//! against what the record paid less its other refunds that did not fail or get canceled, and
//! written, in one immediate transaction; what Stripe says of a refund is applied under the state
//! rule (`payment_state::refund_should_apply`, Stripe's clock) in the transaction that writes it,
//! which also moves the invoice (a succeeded refund is owed again: `invoices::load_invoice` adds
//! its amount less its fee part). Every statement filters on the tenant id. The checks both
//! engines share are here too.

use rusqlite::{OptionalExtension, params};

use super::invoices::load_invoice;
use super::names::{refund_status, refund_status_name};
use super::payments::load_payment;
use super::sqlite::{SqliteDb, conflict_on_unique};
use super::{DbError, DbResult, now};
use crate::contract::{
    Invoice, InvoicePayment, InvoiceStatus, Money, NewRefund, PaymentStatus, Refund,
    RefundObservation, RefundStatus,
};
use crate::tenant::TenantId;
use paydesk_plugin::domain::money::MinorUnits;
use paydesk_plugin::domain::payment_state::{refund_owes_again, refund_should_apply};
use paydesk_plugin::domain::vocabulary as v;

pub(super) const REFUND_COLUMNS: &str = "id, payment_id, invoice_id, refund_id, intent_id, status, \
     amount, fee_part, currency, failure_reason, agent_id, observed_at, created_at, updated_at";

/// The statuses whose refunds count against what a payment can still give back (not void).
pub(super) const LIVE: &str = "status NOT IN ('failed', 'canceled')";

/// Longest Stripe id kept (Stripe's are far shorter).
const MAX_ID: usize = 255;
/// Longest failure reason kept; a longer one is cut (it is for humans).
const MAX_REASON: usize = 500;

/// A refund row as the contract's record; the closures read column `i` of [`REFUND_COLUMNS`].
pub(super) fn refund_of(
    text: impl Fn(usize) -> DbResult<String>,
    opt_text: impl Fn(usize) -> DbResult<Option<String>>,
    int: impl Fn(usize) -> DbResult<i64>,
    opt_int: impl Fn(usize) -> DbResult<Option<i64>>,
) -> DbResult<Refund> {
    let currency = text(8)?;
    Ok(Refund {
        id: int(0)?,
        payment_id: int(1)?,
        invoice_id: int(2)?,
        refund_id: opt_text(3)?,
        intent_id: opt_text(4)?,
        status: refund_status(&text(5)?),
        amount: Money {
            amount: int(6)?,
            currency: currency.clone(),
        },
        fee_part: Money {
            amount: int(7)?,
            currency,
        },
        failure_reason: opt_text(9)?,
        agent_id: opt_int(10)?,
        observed_at: opt_int(11)?,
        created_at: int(12)?,
        updated_at: int(13)?,
    })
}

/// What `payment` paid (amount plus fee), checked.
fn paid(payment: &InvoicePayment) -> DbResult<MinorUnits> {
    MinorUnits(payment.amount.amount)
        .checked_add(MinorUnits(payment.fee.amount))
        .map_err(|_| {
            DbError::Invalid(format!(
                "payment {}: its amount and fee overflow",
                payment.id
            ))
        })
}

/// The sums of `live` (amount, fee part) refunds: all of them, and their parts that are not fee,
/// checked.
fn sums(payment: &InvoicePayment, live: &[(i64, i64)]) -> DbResult<(MinorUnits, MinorUnits)> {
    live.iter()
        .try_fold(
            (MinorUnits(0), MinorUnits(0)),
            |(total, not_fee), (a, f)| {
                let part = MinorUnits(*a).checked_sub(MinorUnits(*f))?;
                Ok((
                    total.checked_add(MinorUnits(*a))?,
                    not_fee.checked_add(part)?,
                ))
            },
        )
        .map_err(|_: paydesk_plugin::domain::money::MoneyError| {
            DbError::Invalid(format!(
                "payment {}: its refunds add up beyond what can be computed",
                payment.id
            ))
        })
}

/// What `payment` can still give back, given its `live` refunds (never below zero).
fn refundable(payment: &InvoicePayment, live: &[(i64, i64)]) -> DbResult<MinorUnits> {
    let (total, _) = sums(payment, live)?;
    Ok(MinorUnits(
        paid(payment)?
            .checked_sub(total)
            .map_err(|_| DbError::Invalid(format!("payment {}: refunds overflow", payment.id)))?
            .0
            .max(0),
    ))
}

/// The refusal of `amount` beyond what `payment` can still give back, saying how much that is.
fn too_much(payment: &InvoicePayment, left: MinorUnits) -> DbError {
    let shown = |amount| crate::access::money(amount, &payment.amount.currency);
    if left.0 == 0 {
        DbError::Conflict(format!(
            "nothing more of this payment can be refunded: its refunds already give back all of the {} it paid",
            shown(paid(payment).map_or(0, |p| p.0))
        ))
    } else {
        DbError::Conflict(format!(
            "only {} of this payment can still be refunded",
            shown(left.0)
        ))
    }
}

fn same_currency(payment: &InvoicePayment, what: &str, money: &Money) -> DbResult<()> {
    if money
        .currency
        .eq_ignore_ascii_case(&payment.amount.currency)
    {
        Ok(())
    } else {
        Err(DbError::Invalid(format!(
            "{what} is in {}, payment {} in {}",
            money.currency.to_ascii_uppercase(),
            payment.id,
            payment.amount.currency.to_ascii_uppercase()
        )))
    }
}

/// May `new` be claimed against `payment`, whose refunds that did not fail or get canceled are
/// `live` (amount, fee part)? It must have succeeded; the amount in its currency and more than
/// zero, the fee part at most the amount and at most the payment's fee, and all of them with this
/// one within what it paid.
pub(super) fn check_claim(
    payment: &InvoicePayment,
    new: &NewRefund,
    live: &[(i64, i64)],
) -> DbResult<()> {
    if payment.status != PaymentStatus::Succeeded {
        return Err(DbError::Conflict(format!(
            "payment {} has not succeeded ({}); only a succeeded payment can be refunded",
            payment.id,
            super::names::payment_status_name(payment.status)
        )));
    }
    same_currency(payment, "the refund", &new.amount)?;
    same_currency(payment, "the refund's fee part", &new.fee_part)?;
    if new.amount.amount <= 0 {
        return Err(DbError::Invalid(
            "a refund must be of more than zero".into(),
        ));
    }
    if new.fee_part.amount < 0 || new.fee_part.amount > new.amount.amount {
        return Err(DbError::Invalid(
            "a refund's fee part must be between zero and its amount".into(),
        ));
    }
    if new.fee_part.amount > payment.fee.amount {
        return Err(DbError::Invalid(format!(
            "a refund's fee part ({}) is more than the payment's processing fee ({})",
            crate::access::money(new.fee_part.amount, &payment.amount.currency),
            crate::access::money(payment.fee.amount, &payment.amount.currency)
        )));
    }
    let left = refundable(payment, live)?;
    if new.amount.amount > left.0 {
        return Err(too_much(payment, left));
    }
    // The fee is given back at most once: the fee parts of all its refunds within it.
    let (total, not_fee) = sums(payment, live)?;
    let fee_left = payment.fee.amount - (total.0 - not_fee.0);
    if new.fee_part.amount > fee_left {
        return Err(DbError::Conflict(format!(
            "only {} of this payment's processing fee can still be refunded",
            crate::access::money(fee_left.max(0), &payment.amount.currency)
        )));
    }
    // And the rest within the payment's amount: what is owed again never exceeds what it paid.
    let amount_left = payment.amount.amount - not_fee.0;
    if new.amount.amount - new.fee_part.amount > amount_left {
        return Err(DbError::Conflict(format!(
            "only {} of this payment can still be refunded besides its processing fee",
            crate::access::money(amount_left.max(0), &payment.amount.currency)
        )));
    }
    Ok(())
}

/// Stripe's refund id of `o` for messages (none: Stripe refused to make it).
pub(super) fn stripe_id(o: &RefundObservation) -> &str {
    o.refund_id.as_deref().unwrap_or("(not made by Stripe)")
}

/// May `o` be recorded against `payment` at all: Stripe's ids bounded, the amount in the
/// payment's currency, more than zero and at most what it paid.
pub(super) fn check_observation(payment: &InvoicePayment, o: &RefundObservation) -> DbResult<()> {
    match &o.refund_id {
        Some(id) if id.is_empty() || id.len() > MAX_ID => {
            return Err(DbError::Invalid(format!(
                "a refund's id must be 1 to {MAX_ID} characters"
            )));
        }
        // Stripe refused to make it: only paydesk's own claim can be told so.
        None if o.record_id.is_none() => {
            return Err(DbError::Invalid(
                "an observation without Stripe's refund id must name the refund record".into(),
            ));
        }
        _ => {}
    }
    if o.intent_id.as_ref().is_some_and(|i| i.len() > MAX_ID) {
        return Err(DbError::Invalid(format!(
            "a refund's payment intent id must be at most {MAX_ID} characters"
        )));
    }
    same_currency(payment, &format!("refund {}", stripe_id(o)), &o.amount)?;
    if o.amount.amount <= 0 || o.amount.amount > paid(payment)?.0 {
        return Err(DbError::Invalid(format!(
            "refund {} of {} is not within the {} payment {} paid",
            stripe_id(o),
            o.amount.amount,
            paid(payment)?.0,
            payment.id
        )));
    }
    Ok(())
}

/// May `o` update `held`, the record it names? Of the same payment, the same Stripe refund once
/// one is known, and the same amount (a refund's amount never changes at Stripe).
pub(super) fn check_held(held: &Refund, o: &RefundObservation) -> DbResult<()> {
    if held.payment_id != o.payment_id {
        return Err(DbError::Invalid(format!(
            "refund record {} is of payment {}, not {}",
            held.id, held.payment_id, o.payment_id
        )));
    }
    if let (Some(known), Some(said)) = (&held.refund_id, &o.refund_id)
        && known != said
    {
        return Err(DbError::Invalid(format!(
            "refund record {} is Stripe's {known}, not {}",
            held.id,
            stripe_id(o)
        )));
    }
    if held.amount.amount != o.amount.amount {
        return Err(DbError::Invalid(format!(
            "refund record {} is of {}, Stripe's {} of {}",
            held.id,
            held.amount.amount,
            stripe_id(o),
            o.amount.amount
        )));
    }
    Ok(())
}

/// The fee part of a refund made elsewhere (Stripe's dashboard), checked to be within what
/// `payment` paid less its `live` refunds (unless it is void, when it gives nothing back): the
/// part of its amount beyond the payment's amount not yet refunded, never below zero.
pub(super) fn observed_fee_part(
    payment: &InvoicePayment,
    o: &RefundObservation,
    live: &[(i64, i64)],
) -> DbResult<i64> {
    if !v::RefundStatus::from(o.status).is_void() {
        let left = refundable(payment, live)?;
        if o.amount.amount > left.0 {
            return Err(too_much(payment, left));
        }
    }
    let (_, not_fee) = sums(payment, live)?;
    let amount_left = payment.amount.amount.saturating_sub(not_fee.0).max(0);
    Ok(o.amount.amount.saturating_sub(amount_left).max(0))
}

/// Whether `o` replaces `held` (none: nothing held yet), by Stripe's clock.
pub(super) fn applies(held: Option<&Refund>, o: &RefundObservation) -> bool {
    refund_should_apply(
        held.map(|r| (v::RefundStatus::from(r.status), r.observed_at)),
        o.status.into(),
        o.observed_at,
    )
}

/// The invoice's status after a refund moves from `held` to `new`, when it changes: a refund
/// that succeeded puts a paid invoice with something due back to awaiting payment; one that no
/// longer did pays an awaiting invoice with nothing due again.
pub(super) fn invoice_move(
    held: Option<RefundStatus>,
    new: RefundStatus,
    invoice: &Invoice,
) -> Option<&'static str> {
    match refund_owes_again(held.map(Into::into), new.into()) {
        Some(true) if invoice.status == InvoiceStatus::Paid && invoice.amount_due > 0 => {
            Some("awaiting_payment")
        }
        Some(false)
            if invoice.status == InvoiceStatus::AwaitingPayment && invoice.amount_due <= 0 =>
        {
            Some("paid")
        }
        _ => None,
    }
}

/// Whether the invoice needs reading at all after `held` → `new`.
pub(super) fn may_move(held: Option<RefundStatus>, new: RefundStatus) -> bool {
    refund_owes_again(held.map(Into::into), new.into()).is_some()
}

/// `reason` bounded for keeping.
pub(super) fn reason(o: &RefundObservation) -> Option<String> {
    o.failure_reason.as_ref().map(|r| {
        let mut end = r.len().min(MAX_REASON);
        while !r.is_char_boundary(end) {
            end -= 1;
        }
        r[..end].to_string()
    })
}

/// What the succeeded refunds of an invoice make owed again (each its amount less its fee part),
/// added up with checked arithmetic.
pub(super) fn owed_again(rows: &[(i64, i64)]) -> Result<MinorUnits, ()> {
    rows.iter()
        .try_fold(MinorUnits(0), |sum, (amount, fee_part)| {
            let part = MinorUnits(*amount)
                .checked_sub(MinorUnits(*fee_part))
                .map_err(|_| ())?;
            sum.checked_add(part).map_err(|_| ())
        })
}

fn row(r: &rusqlite::Row<'_>) -> DbResult<Refund> {
    refund_of(
        |i| Ok(r.get(i)?),
        |i| Ok(r.get(i)?),
        |i| Ok(r.get(i)?),
        |i| Ok(r.get(i)?),
    )
}

fn load(conn: &rusqlite::Connection, tenant: &str, id: i64) -> DbResult<Option<Refund>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REFUND_COLUMNS} FROM payment_refunds WHERE tenant_id = ?1 AND id = ?2"
    ))?;
    let mut rows = stmt.query(params![tenant, id])?;
    rows.next()?.map(row).transpose()
}

fn load_by_stripe_id(
    conn: &rusqlite::Connection,
    tenant: &str,
    payment_id: i64,
    refund_id: &str,
) -> DbResult<Option<Refund>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REFUND_COLUMNS} FROM payment_refunds
         WHERE tenant_id = ?1 AND payment_id = ?2 AND refund_id = ?3"
    ))?;
    let mut rows = stmt.query(params![tenant, payment_id, refund_id])?;
    rows.next()?.map(row).transpose()
}

/// (amount, fee part) of a payment's refunds that did not fail or get canceled.
fn live_amounts(
    conn: &rusqlite::Connection,
    tenant: &str,
    payment_id: i64,
) -> DbResult<Vec<(i64, i64)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT amount, fee_part FROM payment_refunds
             WHERE tenant_id = ?1 AND payment_id = ?2 AND {LIVE} ORDER BY id"
        ))?
        .query_map(params![tenant, payment_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// (amount, fee part) of an invoice's succeeded refunds, for its amount due.
pub(super) fn succeeded_amounts(
    conn: &rusqlite::Connection,
    tenant: &str,
    invoice_id: i64,
) -> DbResult<Vec<(i64, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT amount, fee_part FROM payment_refunds
             WHERE tenant_id = ?1 AND invoice_id = ?2 AND status = 'succeeded' ORDER BY id",
        )?
        .query_map(params![tenant, invoice_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// The refusal of a Stripe refund id already recorded against the payment as another record.
pub(super) fn taken(o: &RefundObservation) -> String {
    format!(
        "Stripe's refund {} is already recorded for payment {} as another refund record",
        stripe_id(o),
        o.payment_id
    )
}

/// Move the invoice of `payment_id` as a refund going from `held` to `new` does.
fn move_invoice(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    invoice_id: i64,
    held: Option<RefundStatus>,
    new: RefundStatus,
) -> DbResult<()> {
    if !may_move(held, new) {
        return Ok(());
    }
    let invoice = load_invoice(tx, tenant, invoice_id)?;
    if let Some(status) = invoice_move(held, new, &invoice) {
        tx.prepare_cached("UPDATE invoices SET status = ?3 WHERE tenant_id = ?1 AND id = ?2")?
            .execute(params![tenant, invoice_id, status])?;
    }
    Ok(())
}

impl super::RefundStore for SqliteDb {
    fn claim_refund(&self, tenant: &TenantId, new: &NewRefund) -> DbResult<Refund> {
        let mut conn = self.conn()?;
        // Immediate: the write lock first, so the refunds summed, the check and the write are one
        // decision whatever else runs (another host's claim waits for this one to commit).
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let t = tenant.as_str();
        let payment = load_payment(&tx, t, new.payment_id)?;
        agent_exists(&tx, t, new.agent_id)?;
        let live = live_amounts(&tx, t, payment.id)?;
        check_claim(&payment, new, &live)?;
        let at = now();
        tx.prepare_cached(
            "INSERT INTO payment_refunds (tenant_id, payment_id, invoice_id, refund_id, intent_id, status,
                 amount, fee_part, currency, failure_reason, agent_id, observed_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, NULL, ?4, 'pending', ?5, ?6, ?7, NULL, ?8, NULL, ?9, ?9)",
        )?
        .execute(params![
            t,
            payment.id,
            payment.invoice_id,
            payment.intent_id,
            new.amount.amount,
            new.fee_part.amount,
            payment.amount.currency.to_ascii_lowercase(),
            new.agent_id,
            at
        ])?;
        let id = tx.last_insert_rowid();
        let refund = load(&tx, t, id)?.ok_or_else(|| DbError::NotFound(format!("refund {id}")))?;
        tx.commit()?;
        Ok(refund)
    }

    fn record_refund(&self, tenant: &TenantId, o: &RefundObservation) -> DbResult<(bool, Refund)> {
        let mut conn = self.conn()?;
        // Immediate, as a claim: the held refund read, the rule, the write and the invoice it
        // moves are one decision.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let t = tenant.as_str();
        let payment = load_payment(&tx, t, o.payment_id)?;
        check_observation(&payment, o)?;
        let status = refund_status_name(o.status);
        let at = now();
        let mut held = match o.record_id {
            Some(id) => {
                Some(load(&tx, t, id)?.ok_or_else(|| DbError::NotFound(format!("refund {id}")))?)
            }
            None => load_by_stripe_id(&tx, t, o.payment_id, stripe_id(o))?,
        };
        if held.is_none() {
            // Made elsewhere (Stripe's dashboard): a new record, within what the payment paid.
            let live = live_amounts(&tx, t, payment.id)?;
            let fee_part = observed_fee_part(&payment, o, &live)?;
            let made = tx
                .prepare_cached(
                    "INSERT INTO payment_refunds (tenant_id, payment_id, invoice_id, refund_id, intent_id,
                         status, amount, fee_part, currency, failure_reason, agent_id, observed_at,
                         created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?12, ?12)
                     ON CONFLICT (tenant_id, payment_id, refund_id) DO NOTHING",
                )?
                .execute(params![
                    t,
                    payment.id,
                    payment.invoice_id,
                    o.refund_id,
                    o.intent_id.as_ref().or(payment.intent_id.as_ref()),
                    status,
                    o.amount.amount,
                    fee_part,
                    payment.amount.currency.to_ascii_lowercase(),
                    reason(o),
                    o.observed_at,
                    at
                ])?;
            if made == 1 {
                let id = tx.last_insert_rowid();
                move_invoice(&tx, t, payment.invoice_id, None, o.status)?;
                let refund =
                    load(&tx, t, id)?.ok_or_else(|| DbError::NotFound(format!("refund {id}")))?;
                tx.commit()?;
                return Ok((true, refund));
            }
            // Recorded meanwhile: decided below like any held refund.
            held = load_by_stripe_id(&tx, t, o.payment_id, stripe_id(o))?;
        }
        let held = held.ok_or_else(|| DbError::NotFound(format!("refund {}", stripe_id(o))))?;
        check_held(&held, o)?;
        let applied = applies(Some(&held), o);
        if applied {
            tx.prepare_cached(
                "UPDATE payment_refunds SET status = ?3, observed_at = ?4, failure_reason = ?5,
                     refund_id = COALESCE(refund_id, ?6), intent_id = COALESCE(intent_id, ?7),
                     updated_at = ?8
                 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![
                t,
                held.id,
                status,
                o.observed_at,
                reason(o),
                o.refund_id,
                o.intent_id,
                at
            ])
            .map_err(|e| conflict_on_unique(e, &taken(o)))?;
            move_invoice(&tx, t, held.invoice_id, Some(held.status), o.status)?;
        } else if held.refund_id.is_none() {
            tx.prepare_cached(
                "UPDATE payment_refunds SET refund_id = ?3, updated_at = ?4
                 WHERE tenant_id = ?1 AND id = ?2 AND refund_id IS NULL",
            )?
            .execute(params![t, held.id, o.refund_id, at])
            .map_err(|e| conflict_on_unique(e, &taken(o)))?;
        }
        let refund = load(&tx, t, held.id)?
            .ok_or_else(|| DbError::NotFound(format!("refund {}", held.id)))?;
        tx.commit()?;
        Ok((applied, refund))
    }

    fn refund(&self, tenant: &TenantId, id: i64) -> DbResult<Refund> {
        let conn = self.conn()?;
        load(&conn, tenant.as_str(), id)?.ok_or_else(|| DbError::NotFound(format!("refund {id}")))
    }

    fn refunds(&self, tenant: &TenantId, invoice_id: i64) -> DbResult<Vec<Refund>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {REFUND_COLUMNS} FROM payment_refunds
             WHERE tenant_id = ?1 AND invoice_id = ?2 ORDER BY id LIMIT 1000"
        ))?;
        let mut rows = stmt.query(params![tenant.as_str(), invoice_id])?;
        let mut all = Vec::new();
        while let Some(r) = rows.next()? {
            all.push(row(r)?);
        }
        Ok(all)
    }

    fn can_refund(&self, tenant: &TenantId, agent_id: i64) -> DbResult<bool> {
        self.conn()?
            .prepare_cached(
                "SELECT can_refund_stripe_payments FROM agents WHERE tenant_id = ?1 AND id = ?2",
            )?
            .query_row(params![tenant.as_str(), agent_id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| DbError::NotFound(format!("agent {agent_id}")))
    }

    fn set_can_refund(&self, tenant: &TenantId, agent_id: i64, can: bool) -> DbResult<()> {
        let changed = self
            .conn()?
            .prepare_cached(
                "UPDATE agents SET can_refund_stripe_payments = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute(params![tenant.as_str(), agent_id, can])?;
        if changed == 0 {
            return Err(DbError::NotFound(format!("agent {agent_id}")));
        }
        Ok(())
    }
}

/// `NotFound` unless `agent_id` is an agent of the tenant.
fn agent_exists(conn: &rusqlite::Connection, tenant: &str, agent_id: i64) -> DbResult<()> {
    conn.prepare_cached("SELECT 1 FROM agents WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant, agent_id], |_| Ok(()))
        .optional()?
        .ok_or_else(|| DbError::NotFound(format!("agent {agent_id}")))
}
