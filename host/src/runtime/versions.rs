//! The contract lines this host serves, and a plugin instance of either behind one face. A
//! component's line is read from the versions of its exports (`paydesk:stripe/admin@0.1.0` is the
//! 0.1 line); its `PluginPre` is the matching binding's. [`Plugin`] has the current binding's export
//! calls with the current types, so callers don't care which line a component speaks: a 0.1
//! instance's arguments are converted to 0.1's types and its answers back ([`v0_1::convert`]), and
//! an argument 0.1 cannot carry (a payment method type it has no case for) is answered as the
//! plugin's `unsupported` error, not a trap. A current component's optional exports (`reminders`, `charges`, `refunds`, `debits`)
//! are looked up apart, so a component without them still loads.

use std::cell::OnceCell;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Component, Instance, InstancePre};

use super::CallState;
use crate::contract::charges::{Charges, ChargesIndices};
use crate::contract::debits::{Debits, DebitsIndices};
use crate::contract::exports::paydesk::stripe::{admin, events, payments, templates};
use crate::contract::refunds::{Refunds, RefundsIndices};
use crate::contract::reminders::{Reminders, RemindersIndices};
use crate::contract::v0_1::{self, convert};
use crate::contract::{ErrorKind, Initiator, PaymentMethodType, PluginError, Settings};

/// A line of the contract the host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractLine {
    /// The frozen 0.1 line (`wit/since_v0.1/`).
    V0_1,
    /// The current line, 0.2 (`wit/`).
    V0_2,
}

impl ContractLine {
    /// The line of a `paydesk:stripe` version (`0.2.0`, `0.1.3`), if the host serves it.
    pub fn of_version(version: &str) -> Option<ContractLine> {
        let mut parts = version.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some("1")) => Some(ContractLine::V0_1),
            (Some("0"), Some("2")) => Some(ContractLine::V0_2),
            _ => None,
        }
    }

    /// The lines served, for messages.
    pub const SERVED: &'static str = "0.1 and 0.2";
}

impl std::fmt::Display for ContractLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContractLine::V0_1 => "0.1",
            ContractLine::V0_2 => "0.2",
        })
    }
}

/// The version of `paydesk:stripe` a component's exports name (`0.2.0`), if any.
pub fn exported_version(engine: &wasmtime::Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .exports(engine)
        .find_map(|(name, _)| {
            name.strip_prefix("paydesk:stripe/")
                .and_then(|rest| rest.split_once('@'))
                .map(|(_, v)| v.to_string())
        })
}

/// A pre-instantiated component of one line.
pub enum VersionedPre {
    V0_1(Box<v0_1::PluginPre<CallState>>),
    V0_2(Arc<CurrentPre>),
}

/// A pre-instantiated component of the current line: where each interface's exports are, found
/// once when the component is loaded; the optional interfaces when the component has them.
pub struct CurrentPre {
    pre: InstancePre<CallState>,
    admin: admin::GuestIndices,
    events: events::GuestIndices,
    payments: payments::GuestIndices,
    templates: templates::GuestIndices,
    reminders: Option<RemindersIndices>,
    charges: Option<ChargesIndices>,
    refunds: Option<RefundsIndices>,
    debits: Option<DebitsIndices>,
}

/// An instance of the current line. An interface's functions are looked up and type-checked the
/// first time the call uses it, not at instantiation: a call uses one interface of eight, and
/// loading all of them was a quarter of a fresh instance's cost.
pub struct Current {
    pre: Arc<CurrentPre>,
    instance: Instance,
    admin: OnceCell<admin::Guest>,
    events: OnceCell<events::Guest>,
    payments: OnceCell<payments::Guest>,
    templates: OnceCell<templates::Guest>,
    reminders: OnceCell<Option<Reminders>>,
    charges: OnceCell<Option<Charges>>,
    refunds: OnceCell<Option<Refunds>>,
    debits: OnceCell<Option<Debits>>,
}

/// What `cell` holds, loaded by `load` the first time.
fn loaded<G>(
    cell: &OnceCell<G>,
    load: impl FnOnce() -> wasmtime::Result<G>,
) -> wasmtime::Result<&G> {
    if let Some(loaded) = cell.get() {
        return Ok(loaded);
    }
    let loaded = load()?;
    Ok(cell.get_or_init(|| loaded))
}

/// The accessor of a required interface of the current line.
macro_rules! required {
    ($name:ident: $ty:ty) => {
        pub fn $name(&self, s: &mut Store<CallState>) -> wasmtime::Result<&$ty> {
            loaded(&self.$name, || self.pre.$name.load(&mut *s, &self.instance))
        }
    };
}

/// The accessor of an optional interface of the current line: `None` when the component has none.
macro_rules! optional {
    ($name:ident: $ty:ty) => {
        pub fn $name(&self, s: &mut Store<CallState>) -> wasmtime::Result<Option<&$ty>> {
            loaded(&self.$name, || match &self.pre.$name {
                Some(indices) => indices.load(&mut *s, &self.instance).map(Some),
                None => Ok(None),
            })
            .map(Option::as_ref)
        }
    };
}

impl Current {
    required!(admin: admin::Guest);
    required!(events: events::Guest);
    required!(payments: payments::Guest);
    required!(templates: templates::Guest);
    optional!(reminders: Reminders);
    optional!(charges: Charges);
    optional!(refunds: Refunds);
    optional!(debits: Debits);
}

impl VersionedPre {
    /// The binding of the line `component` speaks, with every import resolved by `pre`.
    pub fn new(line: ContractLine, pre: InstancePre<CallState>) -> wasmtime::Result<VersionedPre> {
        Ok(match line {
            ContractLine::V0_1 => VersionedPre::V0_1(Box::new(v0_1::PluginPre::new(pre)?)),
            ContractLine::V0_2 => VersionedPre::V0_2(Arc::new(CurrentPre {
                admin: admin::GuestIndices::new(&pre)?,
                events: events::GuestIndices::new(&pre)?,
                payments: payments::GuestIndices::new(&pre)?,
                templates: templates::GuestIndices::new(&pre)?,
                // Optional: a 0.2 component without it loads, and its reminders are not sent.
                reminders: RemindersIndices::new(&pre).ok(),
                // Optional too: without it, agents take whole payments only.
                charges: ChargesIndices::new(&pre).ok(),
                // And this one: without it, payments are refunded in Stripe's dashboard only.
                refunds: RefundsIndices::new(&pre).ok(),
                // Optional too: without it, methods are saved by SetupIntents confirmed in the browser.
                debits: DebitsIndices::new(&pre).ok(),
                pre,
            })),
        })
    }

    pub fn line(&self) -> ContractLine {
        match self {
            VersionedPre::V0_1(_) => ContractLine::V0_1,
            VersionedPre::V0_2(_) => ContractLine::V0_2,
        }
    }

    /// A fresh instance in `store`.
    pub fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Plugin> {
        Ok(match self {
            VersionedPre::V0_1(pre) => Plugin::V0_1(pre.instantiate(store)?),
            VersionedPre::V0_2(pre) => Plugin::V0_2(Current {
                instance: pre.pre.instantiate(&mut *store)?,
                pre: Arc::clone(pre),
                admin: OnceCell::new(),
                events: OnceCell::new(),
                payments: OnceCell::new(),
                templates: OnceCell::new(),
                reminders: OnceCell::new(),
                charges: OnceCell::new(),
                refunds: OnceCell::new(),
                debits: OnceCell::new(),
            }),
        })
    }
}

/// `Plugin`'s accessors of the optional exports: the current line's, when the component has it;
/// 0.1 components never do.
macro_rules! optional_export {
    ($($accessor:ident => $name:ident: $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("The optional `", stringify!($name), "` export, when the component has it (0.1 components never do).")]
            pub fn $accessor(&self, s: &mut Store<CallState>) -> wasmtime::Result<Option<&$ty>> {
                match self {
                    Plugin::V0_2(p) => p.$name(s),
                    Plugin::V0_1(_) => Ok(None),
                }
            }
        )*
    };
}

/// An instance of the plugin, of whichever line its component speaks.
#[allow(
    clippy::large_enum_variant,
    reason = "one per call, on the stack: boxing would add an allocation to every call"
)]
pub enum Plugin {
    V0_1(v0_1::Plugin),
    V0_2(Current),
}

impl Plugin {
    pub fn line(&self) -> ContractLine {
        match self {
            Plugin::V0_1(_) => ContractLine::V0_1,
            Plugin::V0_2(_) => ContractLine::V0_2,
        }
    }

    pub fn paydesk_stripe_admin(&self) -> Admin<'_> {
        Admin(self)
    }

    pub fn paydesk_stripe_events(&self) -> Events<'_> {
        Events(self)
    }

    pub fn paydesk_stripe_payments(&self) -> Payments<'_> {
        Payments(self)
    }

    pub fn paydesk_stripe_templates(&self) -> Templates<'_> {
        Templates(self)
    }

    /// Look up every interface's exports now, as instantiation did before they were loaded on
    /// first use (0.1 instances always load them at once): what a benchmark compares against.
    pub fn load_every_interface(&self, s: &mut Store<CallState>) -> wasmtime::Result<()> {
        if let Plugin::V0_2(p) = self {
            p.admin(s)?;
            p.events(s)?;
            p.payments(s)?;
            p.templates(s)?;
            p.reminders(s)?;
            p.charges(s)?;
            p.refunds(s)?;
            p.debits(s)?;
        }
        Ok(())
    }

    optional_export! {
        paydesk_stripe_reminders => reminders: Reminders,
        paydesk_stripe_charges => charges: Charges,
        paydesk_stripe_refunds => refunds: Refunds,
        paydesk_stripe_debits => debits: Debits,
    }
}

type Answer<T> = wasmtime::Result<Result<T, PluginError>>;

/// An argument as 0.1's type, or the `unsupported` answer when 0.1 has no such value.
fn arg<A: serde::Serialize + std::fmt::Debug + ?Sized, B: serde::de::DeserializeOwned>(
    value: &A,
) -> Result<B, Box<PluginError>> {
    convert(value).map_err(|e| {
        Box::new(PluginError {
            kind: ErrorKind::Unsupported,
            message: format!(
                "the plugin speaks the contract's 0.1 line, which cannot carry {value:?} ({e})"
            ),
            field_errors: Vec::new(),
            stripe: None,
        })
    })
}

/// A 0.1 call's outcome as the current one: its converted answer, or the refusal of an argument.
fn answer<O: serde::Serialize, T: serde::de::DeserializeOwned>(
    called: Result<wasmtime::Result<O>, Box<PluginError>>,
) -> Answer<T> {
    match called {
        Err(refused) => Ok(Err(*refused)),
        Ok(outcome) => convert(&outcome?),
    }
}

/// Export calls whose arguments have the same Rust types in every line (numbers, strings): the
/// call is the same, only the answer is converted.
macro_rules! same_arguments {
    ($current:ident, $accessor:ident; $( fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        $(
            pub fn $name(&self, s: &mut Store<CallState>, $($arg: $ty),*) -> wasmtime::Result<$ret> {
                match self.0 {
                    Plugin::V0_2(p) => p.$current(s)?.$name(s, $($arg),*),
                    Plugin::V0_1(p) => convert(&p.$accessor().$name(s, $($arg),*)?),
                }
            }
        )*
    };
}

/// The `admin` export of either line.
pub struct Admin<'a>(&'a Plugin);

impl Admin<'_> {
    pub fn call_validate_settings(
        &self,
        s: &mut Store<CallState>,
        candidate: &Settings,
    ) -> Answer<()> {
        match self.0 {
            Plugin::V0_2(p) => p.admin(s)?.call_validate_settings(s, candidate),
            Plugin::V0_1(p) => answer(Ok(p
                .paydesk_stripe_admin()
                .call_validate_settings(s, &v0_1::settings(candidate)))),
        }
    }

    same_arguments! { admin, paydesk_stripe_admin;
        fn call_test_connection() -> Result<admin::AccountSummary, PluginError>;
        fn call_list_stripe_customers(starting_after: Option<&str>, limit: u32) -> Result<admin::StripeCustomerPage, PluginError>;
        fn call_add_mapping(customer: i64, stripe_customer_id: &str) -> Result<(), PluginError>;
        fn call_generate_mappings() -> Result<admin::MappingReport, PluginError>;
        fn call_ensure_webhook_endpoint(url: &str) -> Result<admin::WebhookEndpoint, PluginError>;
        fn call_list_payment_methods(customer: i64) -> Result<Vec<admin::PaymentMethodSummary>, PluginError>;
    }
}

/// The `events` export of either line.
pub struct Events<'a>(&'a Plugin);

impl Events<'_> {
    pub fn call_webhook_received(
        &self,
        s: &mut Store<CallState>,
        event: &events::StripeEvent,
    ) -> Answer<events::EventOutcome> {
        match self.0 {
            Plugin::V0_2(p) => p.events(s)?.call_webhook_received(s, event),
            Plugin::V0_1(p) => answer((|| {
                let event: v0_1::exports::paydesk::stripe::events::StripeEvent = arg(event)?;
                Ok(p.paydesk_stripe_events().call_webhook_received(s, &event))
            })()),
        }
    }

    same_arguments! { events, paydesk_stripe_events;
        fn call_invoice_created(invoice: i64) -> Result<events::InvoiceCreatedOutcome, PluginError>;
        fn call_customer_saved(customer: i64) -> Result<events::SyncOutcome, PluginError>;
        fn call_autopay_plan(date: &str) -> Result<Vec<events::AutopayDecision>, PluginError>;
        fn call_autopay_charge(invoice: i64, date: &str) -> Result<events::AutopayResult, PluginError>;
        fn call_reconcile(now: i64) -> Result<events::ReconcileReport, PluginError>;
    }
}

type OldInitiator = v0_1::paydesk::stripe::helpdesk::Initiator;
type OldMethodType = v0_1::paydesk::stripe::types::PaymentMethodType;
use v0_1::exports::paydesk::stripe::payments as old_payments;

/// The `payments` export of either line.
pub struct Payments<'a>(&'a Plugin);

impl Payments<'_> {
    pub fn call_quote(
        &self,
        s: &mut Store<CallState>,
        items: &[payments::QuoteItem],
        method_type: &PaymentMethodType,
    ) -> Answer<payments::Quotation> {
        match self.0 {
            Plugin::V0_2(p) => p.payments(s)?.call_quote(s, items, method_type),
            Plugin::V0_1(p) => answer((|| {
                let items: Vec<old_payments::QuoteItem> = arg(items)?;
                let method_type: OldMethodType = arg(method_type)?;
                Ok(p.paydesk_stripe_payments()
                    .call_quote(s, &items, method_type))
            })()),
        }
    }

    pub fn call_quote_invoices(
        &self,
        s: &mut Store<CallState>,
        invoices: &[i64],
        method_type: &PaymentMethodType,
        initiator: Initiator,
    ) -> Answer<payments::Quotation> {
        match self.0 {
            Plugin::V0_2(p) => {
                p.payments(s)?
                    .call_quote_invoices(s, invoices, method_type, initiator)
            }
            Plugin::V0_1(p) => answer((|| {
                let method_type: OldMethodType = arg(method_type)?;
                let initiator: OldInitiator = arg(&initiator)?;
                Ok(p.paydesk_stripe_payments().call_quote_invoices(
                    s,
                    invoices,
                    method_type,
                    initiator,
                ))
            })()),
        }
    }

    pub fn call_start_payment(
        &self,
        s: &mut Store<CallState>,
        request: &payments::PaymentRequest,
    ) -> Answer<payments::PaymentStarted> {
        match self.0 {
            Plugin::V0_2(p) => p.payments(s)?.call_start_payment(s, request),
            Plugin::V0_1(p) => answer((|| {
                let request: old_payments::PaymentRequest = arg(request)?;
                Ok(p.paydesk_stripe_payments().call_start_payment(s, &request))
            })()),
        }
    }

    pub fn call_confirm_payment(
        &self,
        s: &mut Store<CallState>,
        intent_id: &str,
        payment_method_id: &str,
        initiator: Initiator,
        return_url: Option<&str>,
    ) -> Answer<payments::PaymentStarted> {
        match self.0 {
            Plugin::V0_2(p) => p.payments(s)?.call_confirm_payment(
                s,
                intent_id,
                payment_method_id,
                initiator,
                return_url,
            ),
            Plugin::V0_1(p) => answer((|| {
                let initiator: OldInitiator = arg(&initiator)?;
                Ok(p.paydesk_stripe_payments().call_confirm_payment(
                    s,
                    intent_id,
                    payment_method_id,
                    initiator,
                    return_url,
                ))
            })()),
        }
    }

    pub fn call_authentication_secret(
        &self,
        s: &mut Store<CallState>,
        intent_id: &str,
        initiator: Initiator,
    ) -> Answer<String> {
        match self.0 {
            Plugin::V0_2(p) => p
                .payments(s)?
                .call_authentication_secret(s, intent_id, initiator),
            Plugin::V0_1(p) => answer((|| {
                let initiator: OldInitiator = arg(&initiator)?;
                Ok(p.paydesk_stripe_payments()
                    .call_authentication_secret(s, intent_id, initiator))
            })()),
        }
    }

    pub fn call_start_setup(
        &self,
        s: &mut Store<CallState>,
        customer: i64,
        initiator: Initiator,
    ) -> Answer<payments::SetupStarted> {
        match self.0 {
            Plugin::V0_2(p) => p.payments(s)?.call_start_setup(s, customer, initiator),
            Plugin::V0_1(p) => answer((|| {
                let initiator: OldInitiator = arg(&initiator)?;
                Ok(p.paydesk_stripe_payments()
                    .call_start_setup(s, customer, initiator))
            })()),
        }
    }

    same_arguments! { payments, paydesk_stripe_payments;
        fn call_refresh_payment(intent_id: &str) -> Result<Vec<payments::InvoicePayment>, PluginError>;
        fn call_set_automatic_payment_method(customer: i64, payment_method_id: Option<&str>) -> Result<Option<String>, PluginError>;
        fn call_complete_setup(customer: i64, setup_intent_id: &str) -> Result<String, PluginError>;
        fn call_customer_portal_session(customer: i64, return_url: &str) -> Result<String, PluginError>;
    }
}

/// The `templates` export of either line.
pub struct Templates<'a>(&'a Plugin);

impl Templates<'_> {
    same_arguments! { templates, paydesk_stripe_templates;
        fn call_variables() -> Vec<String>;
        fn call_render_variable(name: &str, customer: i64) -> Result<Option<String>, PluginError>;
    }
}
