//! The demo's steps that take money, each checked before its line is printed: a customer synced
//! to Stripe with a card saved through a SetupIntent as its automatic payment method, the agent
//! and portal user who sign in to the pages, an invoice quoted and paid by the agent with a new
//! card that Stripe's signed webhook then marks paid (with its fee line), a recurring invoice the
//! daily run charges to the saved card, the confirmation emails in the outbox and
//! `$-PAYMENTMETHOD`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::stripe_side::{StripeSide, TEST_CARD};
use super::{DemoArgs, explain, random_token, show, step};
use crate::app::App;
use crate::contract::exports::paydesk::stripe::events::SyncOutcome;
use crate::contract::exports::paydesk::stripe::payments::{PayWith, PaymentRequest};
use crate::contract::{
    Customer, Initiator, InvoiceAccessLevel, InvoicePayment, InvoiceStatus, PaymentFilter,
    PaymentMethodType, PaymentStatus,
};
use crate::db::{NewAgent, NewCustomer, NewInvoice, NewRecurring, NewUser, Principal};
use crate::tenant::TenantId;

/// How long the demo waits for Stripe's webhook (localstripe sends it about a second after the
/// payment); a bound, not an expectation of speed.
const WEBHOOK_WAIT: Duration = Duration::from_secs(60);

/// The records the steps share.
pub struct Story<'a> {
    pub app: &'a App,
    pub stripe: &'a StripeSide<'a>,
    pub tenant: &'a TenantId,
}

/// What the story made, for the pages' URLs.
pub struct Outcome {
    /// The invoice the agent took payment for.
    pub invoice_id: i64,
}

/// The agent and portal user of the demo tenant, and their password.
struct People {
    agent_id: i64,
    agent: String,
    user: String,
    password: String,
}

impl Story<'_> {
    /// Run the steps, numbered from `n`.
    pub fn run(&self, mut n: u32, args: &DemoArgs) -> anyhow::Result<Outcome> {
        let mut next = || {
            n += 1;
            n - 1
        };
        let outbox_before = self
            .app
            .db()
            .emails(self.tenant, 1)?
            .first()
            .map_or(0, |m| m.id);
        let customer = self.customer(next())?;
        let people = self.people(&customer)?;
        let method = self.saved_card(next(), &customer, &people)?;
        let invoice_id = self.agent_payment(next(), &customer, &people, args.amount)?;
        self.webhook(next(), invoice_id)?;
        self.daily_run(next(), &customer, &method, args.recurring_amount)?;
        self.emails(next(), outbox_before)?;
        let rendered = self
            .app
            .render_plugin_variables(self.tenant, customer.id, "$-PAYMENTMETHOD", false)
            .map_err(explain)?;
        step(
            next(),
            "document",
            format_args!("$-PAYMENTMETHOD → \"{rendered}\""),
        );
        step(
            next(),
            "sign in",
            format_args!(
                "organisation {}: agent {} or portal user {}, password {}",
                self.tenant, people.agent, people.user, people.password
            ),
        );
        Ok(Outcome { invoice_id })
    }

    /// A customer, synced to Stripe by the plugin.
    fn customer(&self, n: u32) -> anyhow::Result<Customer> {
        let stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
        let db = self.app.db();
        let customer = db.create_customer(
            self.tenant,
            &NewCustomer {
                name: format!("Demo Customer {stamp}"),
                accounts_email: Some("accounts@customer.paydesk.test".into()),
                accounts_cc_email: None,
            },
        )?;
        let stripe_id = match self
            .app
            .customer_saved(self.tenant, customer.id)
            .map_err(explain)?
        {
            SyncOutcome::Created(id) | SyncOutcome::Updated(id) => id,
            SyncOutcome::Disabled => bail!("customer sync is off for tenant {}", self.tenant),
        };
        step(
            n,
            "customer",
            format_args!(
                "\"{}\" (#{}) → Stripe customer {stripe_id}",
                customer.name, customer.id
            ),
        );
        Ok(db.customer(self.tenant, customer.id)?)
    }

    /// The agent who takes payments and refunds them (an administrator) and a portal user of the customer who sees
    /// all of its invoices, both with one new password.
    fn people(&self, customer: &Customer) -> anyhow::Result<People> {
        let db = self.app.db();
        let password = random_token("")?[..16].to_string();
        let agent_email = format!("ada@{}.paydesk.test", self.tenant);
        let agent = match db
            .agents(self.tenant)?
            .into_iter()
            .find(|a| a.email == agent_email)
        {
            Some(a) => a,
            None => db.create_agent(
                self.tenant,
                &NewAgent {
                    name: "Ada Agent".into(),
                    email: agent_email.clone(),
                    can_receive_manual_stripe_payments: true,
                    is_admin: true,
                },
            )?,
        };
        // The demo refunds a payment too: Ada may.
        db.set_can_refund(self.tenant, agent.id, true)?;
        db.set_password(self.tenant, &Principal::Agent(agent.clone()), &password)?;
        let user = db.create_user(
            self.tenant,
            &NewUser {
                customer_id: customer.id,
                name: "Pat Payer".into(),
                email: format!("pat-{}@customer.paydesk.test", customer.id),
                invoice_access_level: InvoiceAccessLevel::Customer,
            },
        )?;
        db.set_password(self.tenant, &Principal::User(user.clone()), &password)?;
        Ok(People {
            agent_id: agent.id,
            agent: agent.email,
            user: user.email,
            password,
        })
    }

    /// "Add payment method": a SetupIntent the card is confirmed into (Stripe.js's part), then
    /// the plugin makes its method the customer's automatic one. The method's name.
    fn saved_card(&self, n: u32, customer: &Customer, people: &People) -> anyhow::Result<String> {
        let setup = self
            .app
            .start_setup(self.tenant, customer.id, Initiator::Agent(people.agent_id))
            .map_err(explain)?;
        self.stripe
            .confirm_setup(&setup.setup_intent_id, TEST_CARD)
            .context("confirming the card (Stripe.js's part)")?;
        let name = self
            .app
            .complete_setup(self.tenant, customer.id, &setup.setup_intent_id)
            .map_err(explain)?;
        let saved = self.app.db().customer(self.tenant, customer.id)?;
        let Some(pm) = saved.stripe_payment_method_id else {
            bail!("the card was saved but is not the customer's automatic payment method");
        };
        step(
            n,
            "card",
            format_args!(
                "{name} ({pm}) saved through SetupIntent {}: the customer's automatic payment method",
                setup.setup_intent_id
            ),
        );
        Ok(name)
    }

    /// An invoice, and the agent's "Receive Payment (Manual)" with a new card: the PaymentIntent
    /// is confirmed at Stripe (Stripe.js's part). The invoice's id.
    fn agent_payment(
        &self,
        n: u32,
        customer: &Customer,
        people: &People,
        amount: i64,
    ) -> anyhow::Result<i64> {
        let today = chrono::Utc::now().date_naive();
        let currency = self.app.db().tenant(self.tenant)?.settings.stripe_currency;
        let invoice = self.app.db().create_invoice(
            self.tenant,
            &NewInvoice {
                number: format!("DEMO-{}-{}", customer.id, today.format("%Y%m%d")),
                customer_id: customer.id,
                user_id: None,
                currency,
                issue_date: today.to_string(),
                due_date: (today + chrono::Days::new(14)).to_string(),
                recurring_invoice_id: None,
                lines: vec![("Managed services".into(), amount)],
            },
        )?;
        let initiator = Initiator::Agent(people.agent_id);
        let quote = self
            .app
            .quote_invoices(
                self.tenant,
                &[invoice.id],
                PaymentMethodType::Card,
                initiator,
            )
            .map_err(explain)?;
        let started = self
            .app
            .start_payment(
                self.tenant,
                &PaymentRequest {
                    invoices: vec![invoice.id],
                    pay_with: PayWith::NewDetails(vec![PaymentMethodType::Card]),
                    initiator,
                    return_url: None,
                },
            )
            .map_err(explain)?;
        if started.amount != quote.total {
            bail!(
                "the payment is for {}, the quote said {}",
                show(&started.amount),
                show(&quote.total)
            );
        }
        let at_stripe = self
            .stripe
            .confirm_payment(&started.intent_id, TEST_CARD)
            .context("confirming the new card (Stripe.js's part)")?;
        let line = &quote.lines[0];
        step(
            n,
            "agent",
            format_args!(
                "{} (#{}) for {}, fee {} → the agent charged {} to a new card: {} {at_stripe}",
                invoice.number,
                invoice.id,
                show(&line.amount_due),
                show(&line.fee),
                show(&started.amount),
                started.intent_id
            ),
        );
        Ok(invoice.id)
    }

    /// Wait (bounded) for Stripe's signed webhook to mark the agent's payment succeeded.
    fn webhook(&self, n: u32, invoice_id: i64) -> anyhow::Result<()> {
        let deadline = Instant::now() + WEBHOOK_WAIT;
        let record = loop {
            let records = self
                .app
                .db()
                .payments(self.tenant, &PaymentFilter::Invoice(invoice_id))?;
            if let Some(r) = records
                .into_iter()
                .find(|r| r.webhook_received_at.is_some() && r.status == PaymentStatus::Succeeded)
            {
                break r;
            }
            if Instant::now() > deadline {
                bail!(
                    "Stripe's webhook for invoice #{invoice_id} did not arrive within {} s",
                    WEBHOOK_WAIT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let invoice = self.app.db().invoice(self.tenant, invoice_id)?;
        let fee = fee_line(&invoice.lines).context("the paid invoice has no fee line")?;
        if invoice.status != InvoiceStatus::Paid {
            bail!(
                "invoice {} is not paid after Stripe's webhook",
                invoice.number
            );
        }
        step(
            n,
            "webhook",
            format_args!(
                "{} verified and applied: payment #{} succeeded, fee line \"{}\" {}, {} paid",
                record.last_event_id.as_deref().unwrap_or("event"),
                record.id,
                fee.0,
                crate::access::money(fee.1, &invoice.currency),
                invoice.number
            ),
        );
        Ok(())
    }

    /// A monthly recurring invoice due today, generated and charged to the saved card by the
    /// daily integrator run for today.
    fn daily_run(
        &self,
        n: u32,
        customer: &Customer,
        method: &str,
        amount: i64,
    ) -> anyhow::Result<()> {
        let db = self.app.db();
        let today = self.app.local_date(self.tenant).map_err(explain)?;
        let recurring = db.create_recurring(
            self.tenant,
            &NewRecurring {
                customer_id: customer.id,
                user_id: None,
                currency: db.tenant(self.tenant)?.settings.stripe_currency,
                description: "Monthly support plan".into(),
                amount,
                interval_months: 1,
                next_date: today.clone(),
                due_days: 0,
            },
        )?;
        let report = self
            .app
            .run_autopay(self.tenant, Some(&today), false, &mut |_, _| {})
            .map_err(explain)?;
        if let Some(e) = report.errors.first() {
            bail!("the daily run of {today}: {e}");
        }
        let invoice = report
            .generated
            .iter()
            .map(|id| db.invoice(self.tenant, *id))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .find(|i| i.recurring_invoice_id == Some(recurring.id))
            .context("the daily run generated no invoice from the recurring one")?;
        let charged: Vec<InvoicePayment> = db
            .payments(self.tenant, &PaymentFilter::Invoice(invoice.id))?
            .into_iter()
            .filter(|p| p.status == PaymentStatus::Succeeded && p.initiator == Initiator::Autopay)
            .collect();
        let (Some(payment), InvoiceStatus::Paid) = (charged.first(), invoice.status) else {
            let why = report
                .results
                .iter()
                .find(|r| r.invoice_id == invoice.id)
                .map_or("not charged", |r| r.message.as_str());
            bail!("the daily run did not charge {}: {why}", invoice.number);
        };
        step(
            n,
            "daily run",
            format_args!(
                "{today}: recurring \"Monthly support plan\" → {} (#{}), charged {} + fee {} to \
                 {method} off-session: {} succeeded, paid",
                invoice.number,
                invoice.id,
                show(&payment.amount),
                show(&payment.fee),
                payment.intent_id.as_deref().unwrap_or("")
            ),
        );
        Ok(())
    }

    /// The confirmation emails the payments queued (since `after`, an outbox id).
    fn emails(&self, n: u32, after: i64) -> anyhow::Result<()> {
        let mut sent: Vec<_> = self
            .app
            .db()
            .emails(self.tenant, 100)?
            .into_iter()
            .filter(|m| m.id > after)
            .collect();
        sent.reverse();
        let Some(first) = sent.first() else {
            bail!("no payment confirmation was queued");
        };
        step(
            n,
            "email",
            format_args!(
                "{} payment confirmations in the outbox, first \"{}\" to {} cc {}",
                sent.len(),
                first.subject,
                first.to.join(", "),
                first.cc.join(", ")
            ),
        );
        Ok(())
    }
}

/// The processing fee line of an invoice: (description, amount).
fn fee_line(lines: &[crate::contract::InvoiceLine]) -> Option<(String, i64)> {
    lines
        .iter()
        .find(|l| l.is_processing_fee)
        .map(|l| (l.description.clone(), l.amount))
}
