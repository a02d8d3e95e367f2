//! The imports of the contract's 0.1 line (`wit/since_v0.1/`), on the same per-call contexts as the
//! current ones: each 0.1 function converts its arguments to the current types, calls the current
//! implementation and converts the answer back ([`v0_1::convert`], by structure), so a 0.1 plugin
//! gets exactly what a current one gets, through the same checks, scoping and observer. The only
//! hand-made conversion is `get-settings` (0.1's record from the current named values).

use wasmtime::component::{HasSelf, Linker};

use super::{EmailCtx, HasCapabilities, HelpdeskCtx, HttpCtx, LogCtx, StorageCtx};
use crate::contract::paydesk::stripe as current;
use crate::contract::v0_1::paydesk::stripe as old;
use crate::contract::v0_1::{self, convert};

/// 0.1 functions that are the current function of the same name, converted both ways.
macro_rules! forward {
    ($current:path; $( fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        $(
            fn $name(&mut self, $($arg: $ty),*) -> wasmtime::Result<$ret> {
                use $current as Current;
                let answer = Current::$name(self, $(convert(&$arg)?),*)?;
                convert(&answer)
            }
        )*
    };
}

impl old::types::Host for LogCtx {}

impl old::log::Host for LogCtx {
    forward! { current::log::Host;
        fn write(level: old::log::Level, message: String) -> ();
    }
}

impl old::http::Host for HttpCtx {
    forward! { current::http::Host;
        fn send(request: old::http::Request) -> Result<old::http::Response, old::http::SendError>;
    }
}

impl old::storage::Host for StorageCtx {
    forward! { current::storage::Host;
        fn get(key: String) -> Result<Option<old::storage::Entry>, old::types::HostError>;
        fn put_new(key: String, value: Vec<u8>) -> Result<u64, old::types::HostError>;
        fn compare_and_swap(key: String, expected_version: u64, value: Vec<u8>) -> Result<u64, old::types::HostError>;
        fn delete(key: String, expected_version: Option<u64>) -> Result<bool, old::types::HostError>;
        fn list_prefix(prefix: String, start_after: Option<String>, limit: u32) -> Result<Vec<old::storage::Entry>, old::types::HostError>;
    }
}

impl old::email::Host for EmailCtx {
    forward! { current::email::Host;
        fn send(message: old::email::Message) -> Result<bool, old::types::HostError>;
    }
}

type HostResult<T> = Result<T, old::types::HostError>;

impl old::helpdesk::Host for HelpdeskCtx {
    fn get_settings(&mut self) -> wasmtime::Result<old::types::Settings> {
        let named = current::helpdesk::Host::get_settings(self)?;
        Ok(v0_1::settings(&named))
    }

    forward! { current::helpdesk::Host;
        fn tenant_ref() -> String;
        fn get_customer(id: i64) -> HostResult<old::helpdesk::Customer>;
        fn list_customers(after_id: Option<i64>, limit: u32) -> HostResult<Vec<old::helpdesk::Customer>>;
        fn set_stripe_customer_id(id: i64, stripe_customer_id: Option<String>) -> HostResult<()>;
        fn set_automatic_payment_method(id: i64, method: Option<(String, String)>) -> HostResult<()>;
        fn set_stripe_sync_error(id: i64, error: Option<String>) -> HostResult<()>;
        fn get_user(id: i64) -> HostResult<old::helpdesk::User>;
        fn get_agent(id: i64) -> HostResult<old::helpdesk::Agent>;
        fn get_invoice(id: i64) -> HostResult<old::helpdesk::Invoice>;
        fn list_invoices(filter: old::helpdesk::InvoiceFilter) -> HostResult<Vec<old::helpdesk::Invoice>>;
        fn create_payments(payments: Vec<old::helpdesk::NewPayment>) -> HostResult<Vec<old::helpdesk::InvoicePayment>>;
        fn update_payment(id: i64, expected_version: u64, update: old::helpdesk::PaymentUpdate) -> HostResult<old::helpdesk::InvoicePayment>;
        fn list_payments(filter: old::helpdesk::PaymentFilter) -> HostResult<Vec<old::helpdesk::InvoicePayment>>;
        fn get_email_template(id: u32) -> HostResult<old::helpdesk::EmailTemplate>;
        fn audit(entries: Vec<old::helpdesk::AuditEntry>) -> HostResult<()>;
    }
}

/// Link every import interface of the 0.1 line, each to its context in the store's data. Its
/// names (`paydesk:stripe/http@0.1.0`) are another compatible line than the current ones, so both
/// live in one linker and each component resolves its own.
pub fn add_to_linker<T: HasCapabilities>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    old::types::add_to_linker::<T, HasSelf<LogCtx>>(linker, |s| &mut s.capabilities().log)?;
    old::log::add_to_linker::<T, HasSelf<LogCtx>>(linker, |s| &mut s.capabilities().log)?;
    old::http::add_to_linker::<T, HasSelf<HttpCtx>>(linker, |s| &mut s.capabilities().http)?;
    old::storage::add_to_linker::<T, HasSelf<StorageCtx>>(linker, |s| {
        &mut s.capabilities().storage
    })?;
    old::email::add_to_linker::<T, HasSelf<EmailCtx>>(linker, |s| &mut s.capabilities().email)?;
    old::helpdesk::add_to_linker::<T, HasSelf<HelpdeskCtx>>(linker, |s| {
        &mut s.capabilities().helpdesk
    })?;
    Ok(())
}
