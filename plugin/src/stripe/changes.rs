//! The objects of Stripe's events about customers and their payment methods: a `customer.updated`
//! with the default payment method for invoices and what it was before (`previous_attributes`).
//! `payment_method.*` events carry a whole [`super::payment_methods::PaymentMethod`], read with
//! [`super::events::Event`].

use crate::json::{self, FromJson, Json};

use super::IdOrObject;

/// A `customer.updated` event: the customer now, and which of its fields changed.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdated {
    pub id: String,
    pub created: i64,
    pub data: CustomerUpdatedData,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerUpdatedData {
    pub object: CustomerNow,
    pub previous_attributes: Option<PreviousCustomer>,
}

/// The fields of the updated customer we use.
#[derive(Debug, Clone, Default)]
pub struct CustomerNow {
    pub id: String,
    pub invoice_settings: Option<InvoiceSettings>,
}

#[derive(Debug, Clone)]
pub struct InvoiceSettings {
    /// An id, or the payment method when expanded; none when the customer has no default.
    pub default_payment_method: Option<IdOrObject>,
}

/// What the changed fields were: only whether the default payment method is among them matters.
#[derive(Debug, Clone)]
pub struct PreviousCustomer {
    pub invoice_settings: Option<PreviousInvoiceSettings>,
}

#[derive(Debug, Clone)]
pub struct PreviousInvoiceSettings {
    /// Some when the key is there (whatever its value, `null` included): the default changed.
    pub default_payment_method: Option<Option<IgnoredValue>>,
}

/// A value that is only looked at for being there.
#[derive(Debug, Clone)]
pub struct IgnoredValue;

impl FromJson for CustomerUpdated {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a Stripe event")?;
        let read = CustomerUpdated {
            id: f.req("id"),
            created: f.req("created"),
            data: f.req("data"),
        };
        f.done(read)
    }
}

impl FromJson for CustomerUpdatedData {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("an event's data")?;
        let read = CustomerUpdatedData {
            object: f.req("object"),
            previous_attributes: f.opt("previous_attributes"),
        };
        f.done(read)
    }
}

impl FromJson for CustomerNow {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a Customer")?;
        let read = CustomerNow {
            id: f.req("id"),
            invoice_settings: f.opt("invoice_settings"),
        };
        f.done(read)
    }
}

impl FromJson for InvoiceSettings {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        Ok(InvoiceSettings {
            default_payment_method: v
                .object("invoice settings")?
                .opt("default_payment_method")?,
        })
    }
}

impl FromJson for PreviousCustomer {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        Ok(PreviousCustomer {
            invoice_settings: v.object("previous attributes")?.opt("invoice_settings")?,
        })
    }
}

impl FromJson for PreviousInvoiceSettings {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let o = v.object("previous invoice settings")?;
        Ok(PreviousInvoiceSettings {
            default_payment_method: o
                .get("default_payment_method")?
                .map(|v| (*v != Json::Null).then_some(IgnoredValue)),
        })
    }
}

impl CustomerUpdated {
    /// The customer's default payment method for invoices now.
    pub fn default_payment_method(&self) -> Option<&str> {
        self.data
            .object
            .invoice_settings
            .as_ref()
            .and_then(|s| s.default_payment_method.as_ref())
            .map(IdOrObject::id)
    }

    /// Whether the update changed the default payment method for invoices.
    pub fn default_changed(&self) -> bool {
        self.data
            .previous_attributes
            .as_ref()
            .and_then(|p| p.invoice_settings.as_ref())
            .is_some_and(|s| s.default_payment_method.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(previous: &str, default: &str) -> CustomerUpdated {
        let json = format!(
            r#"{{"id":"evt_1","object":"event","type":"customer.updated","created":1700000000,
            "data":{{"object":{{"id":"cus_1","object":"customer","name":"Acme",
              "invoice_settings":{{"custom_fields":null,"default_payment_method":{default},"footer":null}}}},
              "previous_attributes":{previous}}}}}"#
        );
        json::from_str(&json).unwrap()
    }

    #[test]
    fn a_new_default_is_read_with_the_fact_that_it_changed() {
        let e = event(
            r#"{"invoice_settings":{"default_payment_method":"pm_old"}}"#,
            r#""pm_new""#,
        );
        assert_eq!(e.data.object.id, "cus_1");
        assert_eq!(e.created, 1_700_000_000);
        assert_eq!(e.default_payment_method(), Some("pm_new"));
        assert!(e.default_changed());
    }

    #[test]
    fn a_default_that_was_none_before_changed_too() {
        let e = event(
            r#"{"invoice_settings":{"default_payment_method":null}}"#,
            r#"{"id":"pm_new","object":"payment_method","type":"card"}"#,
        );
        assert_eq!(e.default_payment_method(), Some("pm_new"));
        assert!(e.default_changed());
    }

    #[test]
    fn an_update_of_other_fields_did_not_change_the_default() {
        for previous in [
            r#"{"name":"Old name"}"#,
            r#"{"invoice_settings":{"footer":"x"}}"#,
            "null",
        ] {
            let e = event(previous, r#""pm_1""#);
            assert!(!e.default_changed(), "{previous}");
        }
        let json = r#"{"id":"evt_2","created":5,"data":{"object":{"id":"cus_2"}}}"#;
        let e: CustomerUpdated = json::from_str(json).unwrap();
        assert!(!e.default_changed());
        assert_eq!(e.default_payment_method(), None);
    }
}
