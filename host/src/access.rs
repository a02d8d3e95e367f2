//! Who may see what in the reference helpdesk: a portal user sees the invoices their "Invoice
//! Access Level" shows — none, those addressed to them, or all of their
//! customer's. One rule (`paydesk_plugin::domain::access`) for the API, the pages, the PDFs and
//! the plugin's payments.

use paydesk_plugin::domain::access;

use crate::contract::{Invoice, User};
use crate::db::Principal;

/// May portal user `u` see `invoice`? The domain's rule, which the plugin applies to payments too.
pub fn user_sees(u: &User, invoice: &Invoice) -> bool {
    access::user_sees_invoice(
        access::Reader {
            user_id: u.id,
            customer_id: u.customer_id,
            level: u.invoice_access_level.into(),
        },
        access::InvoiceOwner {
            customer_id: invoice.customer_id,
            user_id: invoice.user_id,
        },
    )
}

/// May this caller see `invoice`? Agents see every invoice of their tenant.
pub fn sees(principal: &Principal, invoice: &Invoice) -> bool {
    match principal {
        Principal::Agent(_) => true,
        Principal::User(u) => user_sees(u, invoice),
    }
}

/// May the portal offer "Add payment method" to a customer (`show_auto_payment_on_portal`, M14)?
/// Hide: never; only if set: when the customer has an automatic method; show: always — and only
/// for a customer mapped to Stripe.
pub fn may_add_method(
    setting: crate::settings::PortalAccess,
    customer: &crate::contract::Customer,
) -> bool {
    use crate::settings::PortalAccess;
    customer.stripe_customer_id.is_some()
        && match setting {
            PortalAccess::Hide => false,
            PortalAccess::OnlyIfSet => customer.stripe_payment_method_id.is_some(),
            PortalAccess::Show => true,
        }
}

/// `USD 10.50`, `JPY 1050`, `KWD 1.050`: an amount in minor units, for people.
pub fn money(amount: i64, currency: &str) -> String {
    use paydesk_plugin::domain::money::{Currency, Money};
    Currency::parse(currency)
        .map(|c| Money::new(amount, c).to_string())
        .unwrap_or_else(|_| format!("{} {amount}", currency.to_ascii_uppercase()))
}
