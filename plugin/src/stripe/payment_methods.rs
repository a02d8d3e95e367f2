//! Stripe payment methods: listing a customer's methods of one type, reading one, and turning one
//! into a display name.

use crate::json::{self, FromJson, Json};

use super::{Form, IdOrObject, Request};
use crate::domain::display::{self, MethodDetails};
use crate::domain::vocabulary::PaymentMethodType;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardDetails {
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u32>,
    pub exp_year: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankDetails {
    pub bank_name: Option<String>,
    pub last4: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkDetails {
    pub email: Option<String>,
}

/// The fields of a Stripe payment method we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: String,
    pub method_type: String,
    /// The customer it is attached to: an id, or the customer object when expanded.
    pub customer: Option<IdOrObject>,
    pub card: Option<CardDetails>,
    pub sepa_debit: Option<BankDetails>,
    pub us_bank_account: Option<BankDetails>,
    pub acss_debit: Option<BankDetails>,
    pub bacs_debit: Option<BankDetails>,
    pub au_becs_debit: Option<BankDetails>,
    pub link: Option<LinkDetails>,
}

impl PaymentMethod {
    /// Our type for it, if we know the type.
    pub fn known_type(&self) -> Option<PaymentMethodType> {
        PaymentMethodType::from_wire_name(&self.method_type)
    }

    /// The Stripe customer it is attached to.
    pub fn customer_id(&self) -> Option<&str> {
        self.customer.as_ref().map(IdOrObject::id)
    }

    /// `Visa ending 4242, expires 12/2030`, `SEPA Debit ending 3000`, …
    pub fn display_name(&self) -> String {
        let Some(t) = self.known_type() else {
            return format!("{} payment method", self.method_type);
        };
        let bank = match t {
            PaymentMethodType::SepaDebit => self.sepa_debit.as_ref(),
            PaymentMethodType::UsBankAccount => self.us_bank_account.as_ref(),
            PaymentMethodType::AcssDebit => self.acss_debit.as_ref(),
            PaymentMethodType::BacsDebit => self.bacs_debit.as_ref(),
            PaymentMethodType::AuBecsDebit => self.au_becs_debit.as_ref(),
            PaymentMethodType::Card | PaymentMethodType::Link => None,
        };
        let card = self.card.clone().unwrap_or_default();
        let details = MethodDetails {
            brand: card.brand,
            last4: card.last4.or_else(|| bank.and_then(|b| b.last4.clone())),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            bank_name: bank.and_then(|b| b.bank_name.clone()),
            email: self.link.as_ref().and_then(|l| l.email.clone()),
        };
        display::display_name(t, &details)
    }
}

/// `GET /v1/payment_methods?customer=…&type=…` (Stripe wants one type per list).
pub fn list(
    customer: &str,
    method_type: PaymentMethodType,
    starting_after: Option<&str>,
) -> Request {
    Request::get(
        "/v1/payment_methods",
        Form::new()
            .field("customer", customer)
            .field("type", method_type.wire_name())
            .field("limit", "100")
            .opt("starting_after", starting_after),
    )
}

/// `POST /v1/payment_methods/{id}/attach`.
pub fn attach(id: &str, customer: &str) -> Request {
    Request::post(
        format!("/v1/payment_methods/{id}/attach"),
        Form::new().field("customer", customer),
    )
}

/// `GET /v1/payment_methods/{id}`.
pub fn retrieve(id: &str) -> Request {
    Request::get(format!("/v1/payment_methods/{id}"), Form::new())
}

impl FromJson for CardDetails {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("card details")?;
        let read = CardDetails {
            brand: f.opt("brand"),
            last4: f.opt("last4"),
            exp_month: f.opt("exp_month"),
            exp_year: f.opt("exp_year"),
        };
        f.done(read)
    }
}

impl FromJson for BankDetails {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("bank details")?;
        let read = BankDetails {
            bank_name: f.opt("bank_name"),
            last4: f.opt("last4"),
        };
        f.done(read)
    }
}

impl FromJson for LinkDetails {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        Ok(LinkDetails {
            email: v.object("Link details")?.opt("email")?,
        })
    }
}

impl FromJson for PaymentMethod {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a PaymentMethod")?;
        let read = PaymentMethod {
            id: f.req("id"),
            method_type: f.req("type"),
            customer: f.opt("customer"),
            card: f.opt("card"),
            sepa_debit: f.opt("sepa_debit"),
            us_bank_account: f.opt("us_bank_account"),
            acss_debit: f.opt("acss_debit"),
            bacs_debit: f.opt("bacs_debit"),
            au_becs_debit: f.opt("au_becs_debit"),
            link: f.opt("link"),
        };
        f.done(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stripes_fixture_and_names_it() {
        let json = r#"{"id":"pm_1","object":"payment_method","type":"card","customer":"cus_1",
            "card":{"brand":"visa","last4":"4242","exp_month":8,"exp_year":2030,"funding":"credit"},
            "billing_details":{},"livemode":false}"#;
        let pm: PaymentMethod = json::from_str(json).unwrap();
        assert_eq!(pm.customer_id(), Some("cus_1"));
        assert_eq!(pm.display_name(), "Visa ending 4242, expires 08/2030");
    }

    #[test]
    fn sepa_debit_is_named_by_its_last4() {
        let json = r#"{"id":"pm_2","type":"sepa_debit","customer":{"id":"cus_2"},
            "sepa_debit":{"last4":"3000","bank_code":"37040044"}}"#;
        let pm: PaymentMethod = json::from_str(json).unwrap();
        assert_eq!(pm.customer_id(), Some("cus_2"));
        assert_eq!(pm.display_name(), "SEPA Debit ending 3000");
    }
}
