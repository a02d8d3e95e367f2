//! Paying with a new card, for an agent's "Receive Payment (Manual)" and a portal payer alike: the
//! payment of the invoices and a SetupIntent of their customer that Stripe.js enters the card
//! into; the payment is then confirmed with the card Stripe.js saved ([`App::confirm_payment`]).

use super::{App, CallError};
use crate::contract::charges::{ChargeRequest, ChargeWith};
use crate::contract::exports::paydesk::stripe::payments::{PayWith, PaymentRequest};
use crate::contract::{Initiator, Money, PaymentMethodType};
use crate::db::DbError;
use crate::tenant::TenantId;

/// A new-card payment that started: what the payer's browser needs to enter and confirm the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCardPayment {
    /// The payment's PaymentIntent (`pi_…`).
    pub intent_id: String,
    /// The client secret of the SetupIntent the card is entered into, for Stripe.js.
    pub setup_client_secret: String,
    /// What is charged, in minor units of the invoices' currency.
    pub amount: i64,
}

/// Why a new-card payment did not start: the invoices could not be read (none named, or the first
/// one is not there), or a plugin call refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum NewCardError {
    #[error(transparent)]
    Invoices(#[from] DbError),
    #[error(transparent)]
    Call(#[from] CallError),
}

impl App {
    /// Start paying `invoices` with a new card as `initiator`: the payment, and a SetupIntent of the
    /// first invoice's customer for the card (the plugin refuses invoices the payer may not pay).
    pub fn start_new_card(
        &self,
        tenant: &TenantId,
        invoices: Vec<i64>,
        initiator: Initiator,
    ) -> Result<NewCardPayment, NewCardError> {
        let first = invoices
            .first()
            .ok_or_else(|| DbError::NotFound("invoice".into()))?;
        let customer = self.db().invoice(tenant, *first)?.customer_id;
        let request = PaymentRequest {
            invoices,
            pay_with: PayWith::NewDetails(vec![PaymentMethodType::Card]),
            initiator,
            return_url: None,
        };
        let started = self.start_payment(tenant, &request)?;
        let setup = self.start_setup(tenant, customer, initiator)?;
        Ok(NewCardPayment {
            intent_id: started.intent_id,
            setup_client_secret: setup.client_secret,
            amount: started.amount.amount,
        })
    }

    /// An agent's new-card charge of one invoice: all or `amount` of what is due, held to
    /// `agreed_total` (the total the page showed), and a SetupIntent of its customer for the card.
    pub fn start_new_card_charge(
        &self,
        tenant: &TenantId,
        invoice: i64,
        amount: Option<i64>,
        agreed_total: Option<i64>,
        initiator: Initiator,
    ) -> Result<NewCardPayment, NewCardError> {
        let i = self.db().invoice(tenant, invoice)?;
        let request = ChargeRequest {
            invoice,
            amount,
            paid_with: ChargeWith::NewDetails(PaymentMethodType::Card),
            initiator,
            agreed_total: agreed_total.map(|amount| Money {
                amount,
                currency: i.currency.clone(),
            }),
            return_url: None,
        };
        let started = self.start_charge(tenant, &request)?;
        let setup = self.start_setup(tenant, i.customer_id, initiator)?;
        Ok(NewCardPayment {
            intent_id: started.intent_id,
            setup_client_secret: setup.client_secret,
            amount: started.total.amount,
        })
    }
}
