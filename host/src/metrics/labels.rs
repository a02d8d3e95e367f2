//! The label values of the metrics, each from a fixed set: the plugin version, call outcomes,
//! Stripe operations (method and a known path, ids as `{id}`) and statuses, webhook outcomes and
//! known event types; and the label sets of the families. Nothing here can take a value that grows
//! with tenants, invoices or Stripe ids.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

/// The loaded component as a label: its contract version and the first 12 hex digits of its
/// sha256, e.g. `0.1.0-3f9a1c2b7d4e`. Cheap to clone (one reference count).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PluginVersion(Arc<str>);

impl PluginVersion {
    pub fn new(contract_version: &str, sha256_hex: &str) -> PluginVersion {
        let short = sha256_hex.get(..12).unwrap_or(sha256_hex);
        PluginVersion(format!("{contract_version}-{short}").into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl EncodeLabelValue for PluginVersion {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// How a plugin call ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    /// The plugin answered with an error value.
    PluginError,
    Trap,
    OutOfFuel,
    Deadline,
    Memory,
    Instantiate,
    /// Refused: the tenant already had its limit of calls running on this host.
    Instances,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::PluginError => "plugin_error",
            CallOutcome::Trap => "trap",
            CallOutcome::OutOfFuel => "out_of_fuel",
            CallOutcome::Deadline => "deadline",
            CallOutcome::Memory => "memory",
            CallOutcome::Instantiate => "instantiate",
            CallOutcome::Instances => "instances",
        }
    }

    /// Whether the sandbox stopped the call (a trap or an exhausted limit).
    pub(super) fn is_sandbox_stop(self) -> bool {
        !matches!(self, CallOutcome::Ok | CallOutcome::PluginError)
    }
}

/// How a request to Stripe ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum StripeStatus {
    /// Stripe answered with this HTTP status.
    Http(u16),
    /// Surely not sent (connection refused, no such host, a key no header can carry).
    NotSent,
    /// Sent, but no whole answer came back (a timeout, a cut connection, an oversized body).
    Unknown,
    /// The host refused it before sending (not a Stripe API path, no key saved).
    Denied,
}

/// How a webhook delivery ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum WebhookOutcome {
    Applied,
    Duplicate,
    Stale,
    Ignored,
    /// Refused with a 4xx: no endpoint for the tenant, a bad signature, a body that is not an event.
    Rejected,
    /// The plugin or the host failed (5xx); Stripe delivers it again.
    Failed,
}

impl WebhookOutcome {
    fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Applied => "applied",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Stale => "stale",
            WebhookOutcome::Ignored => "ignored",
            WebhookOutcome::Rejected => "rejected",
            WebhookOutcome::Failed => "failed",
        }
    }
}

/// The event types that get a label of their own; any other verified type is `other`, and an
/// event whose signature was not verified is `unverified` (its body is the sender's word only).
pub const EVENT_TYPES: &[&str] = &[
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "payment_intent.requires_action",
    "payment_intent.created",
    "payment_intent.amount_capturable_updated",
    "payment_intent.partially_funded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "payment_method.detached",
    "payment_method.updated",
    "customer.updated",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
];

/// `event_type` as a label value: one of [`EVENT_TYPES`] or `other`.
pub fn event_type_label(event_type: &str) -> &'static str {
    EVENT_TYPES
        .iter()
        .find(|t| **t == event_type)
        .copied()
        .unwrap_or("other")
}

/// The Stripe API paths that get a label of their own, `{id}` standing for one path segment.
/// More specific ones come first (`/search` before `/{id}`). Anything else is `other`.
const OPERATIONS: &[&str] = &[
    "/v1/account",
    "/v1/balance",
    "/v1/billing_portal/sessions",
    "/v1/customers",
    "/v1/customers/search",
    "/v1/customers/{id}",
    "/v1/customers/{id}/payment_methods",
    "/v1/payment_intents",
    "/v1/payment_intents/search",
    "/v1/payment_intents/{id}",
    "/v1/payment_intents/{id}/cancel",
    "/v1/payment_intents/{id}/capture",
    "/v1/payment_intents/{id}/confirm",
    "/v1/payment_methods",
    "/v1/payment_methods/{id}",
    "/v1/payment_methods/{id}/attach",
    "/v1/payment_methods/{id}/detach",
    "/v1/refunds",
    "/v1/setup_intents",
    "/v1/setup_intents/{id}",
    "/v1/setup_intents/{id}/confirm",
    "/v1/webhook_endpoints",
    "/v1/webhook_endpoints/{id}",
];

/// `path` with its ids replaced, from the table of known operations, or `other`.
pub fn operation_path(path: &str) -> &'static str {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    OPERATIONS
        .iter()
        .find(|template| {
            let mut t = template.split('/');
            let mut p = path.split('/');
            loop {
                match (t.next(), p.next()) {
                    (None, None) => return true,
                    (Some("{id}"), Some(seg)) if !seg.is_empty() => {}
                    (Some(a), Some(b)) if a == b => {}
                    _ => return false,
                }
            }
        })
        .copied()
        .unwrap_or("other")
}

/// A Stripe operation label: `POST /v1/payment_intents/{id}/confirm`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(super) struct Operation {
    pub(super) method: &'static str,
    pub(super) path: &'static str,
}

impl EncodeLabelValue for Operation {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        write!(encoder, "{} {}", self.method, self.path)
    }
}

impl EncodeLabelValue for StripeStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        match self {
            StripeStatus::Http(code) => write!(encoder, "{code}"),
            StripeStatus::NotSent => encoder.write_str("not_sent"),
            StripeStatus::Unknown => encoder.write_str("unknown"),
            StripeStatus::Denied => encoder.write_str("denied"),
        }
    }
}

impl EncodeLabelValue for CallOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

impl EncodeLabelValue for WebhookOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PluginCallLabels {
    pub(super) export: &'static str,
    pub(super) outcome: CallOutcome,
    pub(super) version: PluginVersion,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ExportLabels {
    pub(super) export: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabels {
    pub(super) kind: CallOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StripeLabels {
    pub(super) operation: Operation,
    pub(super) status: StripeStatus,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OperationLabels {
    pub(super) operation: Operation,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct WebhookLabels {
    pub(super) r#type: &'static str,
    pub(super) outcome: WebhookOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TypeLabels {
    pub(super) r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ActionLabels {
    pub(super) action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StatusLabels {
    pub(super) status: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_paths_become_operations_without_their_ids() {
        for (path, op) in [
            (
                "/v1/payment_intents/pi_3Abc/confirm",
                "/v1/payment_intents/{id}/confirm",
            ),
            ("/v1/payment_intents", "/v1/payment_intents"),
            ("/v1/payment_intents/search", "/v1/payment_intents/search"),
            ("/v1/customers/cus_9", "/v1/customers/{id}"),
            ("/v1/customers?limit=3", "/v1/customers"),
            (
                "/v1/payment_methods/pm_1/attach",
                "/v1/payment_methods/{id}/attach",
            ),
            ("/v1/customers/cus_9/x/y", "other"),
            ("/v1/anything_at_all", "other"),
            ("/v1/customers/", "other"),
        ] {
            assert_eq!(operation_path(path), op, "{path}");
        }
    }
}
