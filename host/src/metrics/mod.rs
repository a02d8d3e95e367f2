//! The host's Prometheus metrics: one [`Metrics`] registry per [`crate::capabilities::Services`]
//! (so several apps in one process, as in the tests, keep their own counts), the metric families,
//! the small `record_*` functions the call paths use, and [`Metrics::render`], the Prometheus text
//! format (0.0.4) that `GET /metrics` answers with. Every label takes its value from a fixed set —
//! export names, outcome words, Stripe operations from a table, known event types — so no label
//! grows with tenants, invoices or Stripe ids, whatever a plugin or a sender does. A ground-floor
//! module: it imports nothing of the host, and never reads the database itself — the gauges are
//! set from the counts the caller read at scrape time.

mod labels;

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use labels::{
    ActionLabels, ExportLabels, KindLabels, Operation, OperationLabels, PluginCallLabels,
    StatusLabels, StripeLabels, TypeLabels, WebhookLabels,
};
pub use labels::{
    CallOutcome, EVENT_TYPES, PluginVersion, StripeStatus, WebhookOutcome, event_type_label,
    operation_path,
};

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, 1 ms to about 2 minutes (the default deadline).
fn call_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

/// Fuel, 10 thousand to about 2.6 billion (the default limit is 2 billion).
fn fuel_units() -> Histogram {
    Histogram::new(exponential_buckets(10_000.0, 4.0, 10))
}

/// Seconds, 5 ms to about 80 s (the default request timeout is 60 s).
fn request_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Seconds behind Stripe's `created`: 1 s to about 3 days (Stripe retries for three days).
fn lag_seconds() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 4.0, 10))
}

/// The registry and every metric family of one app.
pub struct Metrics {
    registry: Registry,
    plugin_calls: Family<PluginCallLabels, Counter>,
    plugin_call_seconds: Histograms<ExportLabels>,
    plugin_fuel: Histograms<ExportLabels>,
    sandbox_stops: Family<KindLabels, Counter>,
    stripe_requests: Family<StripeLabels, Counter>,
    stripe_request_seconds: Histograms<OperationLabels>,
    webhook_events: Family<WebhookLabels, Counter>,
    webhook_lag_seconds: Histograms<TypeLabels>,
    autopay_decisions: Family<ActionLabels, Counter>,
    autopay_results: Family<StatusLabels, Counter>,
    outbox_queued: Gauge,
    open_payments: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every family registered under the `paydesk_` prefix, all empty.
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("paydesk"),
            plugin_calls: Family::default(),
            plugin_call_seconds: Family::new_with_constructor(call_seconds),
            plugin_fuel: Family::new_with_constructor(fuel_units),
            sandbox_stops: Family::default(),
            stripe_requests: Family::default(),
            stripe_request_seconds: Family::new_with_constructor(request_seconds),
            webhook_events: Family::default(),
            webhook_lag_seconds: Family::new_with_constructor(lag_seconds),
            autopay_decisions: Family::default(),
            autopay_results: Family::default(),
            outbox_queued: Gauge::default(),
            open_payments: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register(
            "plugin_calls",
            "Plugin calls by export, outcome and plugin version",
            m.plugin_calls.clone(),
        );
        r.register_with_unit(
            "plugin_call_duration",
            "Wall-clock time of a plugin call, instantiation included, by export",
            Unit::Seconds,
            m.plugin_call_seconds.clone(),
        );
        r.register(
            "plugin_call_fuel",
            "Fuel (about one per wasm instruction) an export's run consumed, by export",
            m.plugin_fuel.clone(),
        );
        r.register(
            "sandbox_stops",
            "Plugin calls the sandbox stopped, by kind (trap, out_of_fuel, deadline, memory, instantiate, instances: the tenant's limit of calls at once)",
            m.sandbox_stops.clone(),
        );
        r.register(
            "stripe_requests",
            "Requests to Stripe by operation (method and path, ids as {id}) and status",
            m.stripe_requests.clone(),
        );
        r.register_with_unit(
            "stripe_request_duration",
            "Time from sending a request to Stripe to its whole answer, by operation",
            Unit::Seconds,
            m.stripe_request_seconds.clone(),
        );
        r.register(
            "webhook_events",
            "Stripe webhook deliveries by event type and outcome",
            m.webhook_events.clone(),
        );
        r.register_with_unit(
            "webhook_lag",
            "How long after Stripe's created time a verified event arrived, by type",
            Unit::Seconds,
            m.webhook_lag_seconds.clone(),
        );
        r.register(
            "autopay_decisions",
            "Invoices the daily run planned, by action (charge or skip)",
            m.autopay_decisions.clone(),
        );
        r.register(
            "autopay_results",
            "Daily-run charges by result (a payment status, skipped, or error)",
            m.autopay_results.clone(),
        );
        r.register(
            "outbox_queued_emails",
            "Emails queued in the outbox, not yet sent (read at scrape time)",
            m.outbox_queued.clone(),
        );
        r.register(
            "open_payment_claims",
            "Payment records still open, each holding its invoice's claim (read at scrape time)",
            m.open_payments.clone(),
        );
        m
    }

    /// One plugin call of `export` on `version`: its outcome, its duration and, when the export
    /// ran, the fuel it consumed.
    pub fn record_plugin_call(
        &self,
        export: &'static str,
        version: &PluginVersion,
        outcome: CallOutcome,
        elapsed: Duration,
        fuel: Option<u64>,
    ) {
        self.plugin_calls
            .get_or_create(&PluginCallLabels {
                export,
                outcome,
                version: version.clone(),
            })
            .inc();
        let labels = ExportLabels { export };
        self.plugin_call_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if let Some(fuel) = fuel {
            self.plugin_fuel.get_or_create(&labels).observe(fuel as f64);
        }
        if outcome.is_sandbox_stop() {
            self.sandbox_stops
                .get_or_create(&KindLabels { kind: outcome })
                .inc();
        }
    }

    /// One request to Stripe: `method` and `path` as the plugin asked, how it ended, and how long
    /// the exchange took when it was attempted.
    pub fn record_stripe_request(
        &self,
        method: &'static str,
        path: &str,
        status: StripeStatus,
        elapsed: Option<Duration>,
    ) {
        let operation = Operation {
            method,
            path: operation_path(path),
        };
        self.stripe_requests
            .get_or_create(&StripeLabels { operation, status })
            .inc();
        if let Some(elapsed) = elapsed {
            self.stripe_request_seconds
                .get_or_create(&OperationLabels { operation })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// One webhook delivery: its type (`None` before the signature was verified), its outcome,
    /// and for a verified event how many seconds after Stripe's `created` it arrived.
    pub fn record_webhook(
        &self,
        event_type: Option<&str>,
        outcome: WebhookOutcome,
        lag_seconds: Option<i64>,
    ) {
        let r#type = event_type.map_or("unverified", event_type_label);
        self.webhook_events
            .get_or_create(&WebhookLabels { r#type, outcome })
            .inc();
        if let Some(lag) = lag_seconds {
            // A sender's clock ahead of ours is no lag.
            self.webhook_lag_seconds
                .get_or_create(&TypeLabels { r#type })
                .observe(lag.max(0) as f64);
        }
    }

    /// One invoice of a daily run's plan: charge or skip.
    pub fn record_autopay_decision(&self, charge: bool) {
        let action = if charge { "charge" } else { "skip" };
        self.autopay_decisions
            .get_or_create(&ActionLabels { action })
            .inc();
    }

    /// One daily-run charge's result: a payment status name, `skipped` or `error`.
    pub fn record_autopay_result(&self, status: &'static str) {
        self.autopay_results
            .get_or_create(&StatusLabels { status })
            .inc();
    }

    /// Everything, in the Prometheus text format, with the gauges set to what the database holds
    /// now: queued emails and open payment claims.
    pub fn render(&self, queued_emails: i64, open_payment_claims: i64) -> String {
        self.outbox_queued.set(queued_emails);
        self.open_payments.set(open_payment_claims);
        let mut text = String::with_capacity(8 << 10);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrape_names_every_family_and_its_labels() {
        let m = Metrics::new();
        let v = PluginVersion::new("0.1.0", "0123456789abcdef0123");
        assert_eq!(v.as_str(), "0.1.0-0123456789ab");
        m.record_plugin_call(
            "events.autopay-charge",
            &v,
            CallOutcome::Ok,
            Duration::from_millis(3),
            Some(1_000),
        );
        m.record_plugin_call(
            "events.autopay-charge",
            &v,
            CallOutcome::OutOfFuel,
            Duration::from_millis(3),
            Some(2_000),
        );
        m.record_stripe_request(
            "POST",
            "/v1/payment_intents/pi_1/confirm",
            StripeStatus::Http(402),
            Some(Duration::from_millis(20)),
        );
        m.record_stripe_request("GET", "/v1/customers/cus_1", StripeStatus::NotSent, None);
        m.record_webhook(
            Some("payment_intent.succeeded"),
            WebhookOutcome::Applied,
            Some(4),
        );
        m.record_webhook(Some("customer.created"), WebhookOutcome::Ignored, Some(-3));
        m.record_webhook(None, WebhookOutcome::Rejected, None);
        m.record_autopay_decision(true);
        m.record_autopay_result("succeeded");
        let text = m.render(3, 2);
        for line in [
            r#"paydesk_plugin_calls_total{export="events.autopay-charge",outcome="ok",version="0.1.0-0123456789ab"} 1"#,
            r#"paydesk_plugin_calls_total{export="events.autopay-charge",outcome="out_of_fuel",version="0.1.0-0123456789ab"} 1"#,
            r#"paydesk_plugin_call_duration_seconds_count{export="events.autopay-charge"} 2"#,
            r#"paydesk_plugin_call_fuel_sum{export="events.autopay-charge"} 3000.0"#,
            r#"paydesk_sandbox_stops_total{kind="out_of_fuel"} 1"#,
            r#"paydesk_stripe_requests_total{operation="POST /v1/payment_intents/{id}/confirm",status="402"} 1"#,
            r#"paydesk_stripe_requests_total{operation="GET /v1/customers/{id}",status="not_sent"} 1"#,
            r#"paydesk_stripe_request_duration_seconds_count{operation="POST /v1/payment_intents/{id}/confirm"} 1"#,
            r#"paydesk_webhook_events_total{type="payment_intent.succeeded",outcome="applied"} 1"#,
            r#"paydesk_webhook_events_total{type="other",outcome="ignored"} 1"#,
            r#"paydesk_webhook_events_total{type="unverified",outcome="rejected"} 1"#,
            r#"paydesk_webhook_lag_seconds_sum{type="payment_intent.succeeded"} 4.0"#,
            r#"paydesk_webhook_lag_seconds_sum{type="other"} 0.0"#,
            r#"paydesk_autopay_decisions_total{action="charge"} 1"#,
            r#"paydesk_autopay_results_total{status="succeeded"} 1"#,
            "paydesk_outbox_queued_emails 3",
            "paydesk_open_payment_claims 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("pi_1") && !text.contains("cus_1"), "{text}");
    }
}
