//! The Rust reference host's conformance driver (`conformance/PROTOCOL.md`): JSON requests on
//! stdin, one answer per line on stdout, each op done through the host crate's public API
//! (`paydesk_host::app::App` on a `SqliteDb`) as a helpdesk embedding it would. `conformance/run.py`
//! starts it; it embeds the components it runs (the plugin and the abusive test guest) and hands
//! them to other hosts' drivers through the `components` op.

mod wire;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paydesk_host::app::{App, AppConfig, SettingsSave};
use paydesk_host::capabilities::HttpConfig;
use paydesk_host::contract::exports::paydesk::stripe::payments;
use paydesk_host::contract::{InvoiceAccessLevel, PaymentFilter, PaymentMethodType};
use paydesk_host::db::{
    Database, NewAgent, NewCustomer, NewInvoice, NewRecurring, NewUser, SqliteDb,
};
use paydesk_host::runtime::{EMBEDDED_PLUGIN, Limits, RuntimeConfig};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use wire::Failure;

type Answer = Result<Value, Failure>;

/// One request's arguments.
struct Request<'a>(&'a Value);

impl Request<'_> {
    fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T, Failure> {
        serde_json::from_value(self.0.get(name).cloned().unwrap_or(Value::Null))
            .map_err(|e| Failure::new("bad-request", format!("argument `{name}`: {e}")))
    }

    fn value(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Null)
    }

    fn tenant(&self) -> Result<TenantId, Failure> {
        TenantId::parse(&self.get::<String>("tenant")?).map_err(|e| Failure::new("bad-request", e))
    }
}

struct Driver {
    app: Option<App>,
    dir: tempfile::TempDir,
    starts: u32,
}

impl Driver {
    fn app(&self) -> Result<&App, Failure> {
        self.app
            .as_ref()
            .ok_or_else(|| Failure::new("bad-request", "no host: send `start` first"))
    }

    fn db(&self) -> Result<&dyn Database, Failure> {
        Ok(self.app()?.db())
    }

    fn handle(&mut self, op: &str, r: Request) -> Answer {
        match op {
            "components" => components(&r),
            "start" => self.start(&r),
            "create_tenant" => self.create_tenant(&r),
            "save_settings" => {
                let save = SettingsSave {
                    settings: r.get::<TenantSettings>("settings")?,
                    secret_key: r.get::<Option<String>>("secret_key")?.map(Secret::new),
                };
                self.app()?.save_settings(&r.tenant()?, save)?;
                Ok(json!({}))
            }
            _ => self.records(op, &r),
        }
    }

    fn start(&mut self, r: &Request) -> Answer {
        let limits = r.value("limits");
        let defaults = Limits::default();
        let number = |name: &str| limits.get(name).and_then(Value::as_u64);
        let limits = Limits {
            memory_bytes: number("memory_bytes").map_or(defaults.memory_bytes, |m| m as usize),
            fuel: number("fuel").unwrap_or(defaults.fuel),
            deadline: number("deadline_ms").map_or(defaults.deadline, Duration::from_millis),
            concurrent_instances: 8,
            ..defaults
        };
        let wasm = match r.get::<String>("guest")?.as_str() {
            "plugin" => None,
            "abusive" => Some(paydesk_tests::ABUSIVE_WASM.to_vec()),
            other => return Err(Failure::new("bad-request", format!("no guest `{other}`"))),
        };
        self.starts += 1;
        let db = SqliteDb::open(&self.dir.path().join(format!("host-{}.db", self.starts)))?;
        let app = App::new(
            Arc::new(db),
            AppConfig {
                stripe_api_base: r.get("stripe_api_base")?,
                public_url: None,
                runtime: RuntimeConfig {
                    wasm,
                    cache_dir: Some(std::env::temp_dir().join("paydesk-test-component-cache")),
                    limits,
                },
                http: HttpConfig::default(),
                autopay_workers: 1,
            },
        )
        .map_err(|e| Failure::new("instantiate", format!("{e:#}")))?;
        let contract = app.runtime.describe().version;
        self.app = Some(app);
        Ok(json!({"host": "rust", "contract": contract}))
    }

    fn create_tenant(&self, r: &Request) -> Answer {
        let (db, tenant) = (self.db()?, r.tenant()?);
        db.create_tenant(&tenant, tenant.as_str(), &r.get::<String>("mailbox")?)?;
        let settings: Option<TenantSettings> = r.get("settings")?;
        let key = r.get::<Option<String>>("secret_key")?.map(Secret::new);
        db.save_settings_and_key(&tenant, &settings.unwrap_or_default(), key.as_ref())?;
        if let Some(secret) = r.get::<Option<String>>("webhook_secret")? {
            db.set_webhook_secret(&tenant, &Secret::new(secret))?;
        }
        Ok(json!({}))
    }

    /// The helpdesk's records and the plugin's exports.
    fn records(&self, op: &str, r: &Request) -> Answer {
        let (app, tenant) = (self.app()?, r.tenant()?);
        let db = app.db();
        let customer = || r.get::<i64>("customer_id");
        Ok(match op {
            "create_customer" => {
                let new = NewCustomer {
                    name: r.get("name")?,
                    accounts_email: r.get("accounts_email")?,
                    accounts_cc_email: r.get("accounts_cc_email")?,
                };
                json!({"id": db.create_customer(&tenant, &new)?.id})
            }
            "create_user" => {
                let level = match r.get::<String>("invoice_access_level")?.as_str() {
                    "addressed-to-user" => InvoiceAccessLevel::AddressedToUser,
                    "customer" => InvoiceAccessLevel::Customer,
                    _ => InvoiceAccessLevel::None,
                };
                let new = NewUser {
                    customer_id: customer()?,
                    name: r.get("name")?,
                    email: r.get("email")?,
                    invoice_access_level: level,
                };
                json!({"id": db.create_user(&tenant, &new)?.id})
            }
            "create_agent" => {
                let new = NewAgent {
                    name: r.get("name")?,
                    email: r.get("email")?,
                    can_receive_manual_stripe_payments: r
                        .get("can_receive_manual_stripe_payments")?,
                    is_admin: r.get("is_admin")?,
                };
                json!({"id": db.create_agent(&tenant, &new)?.id})
            }
            "create_invoice" => self.create_invoice(db, &tenant, r)?,
            "get_invoice" => {
                let id = r.get("id")?;
                let invoice = db.invoice(&tenant, id)?;
                let payments = db.payments(&tenant, &PaymentFilter::Invoice(id))?;
                json!({
                    "id": invoice.id, "number": invoice.number,
                    "status": wire::invoice_status(invoice.status), "currency": invoice.currency,
                    "amount_due": invoice.amount_due,
                    "lines": invoice.lines.iter().map(|l| json!({
                        "description": l.description, "amount": l.amount,
                        "is_processing_fee": l.is_processing_fee,
                    })).collect::<Vec<_>>(),
                    "payments": payments.iter().map(|p| pick(&wire::payment(p), &[
                        "id", "status", "intent_id", "group_id", "amount", "fee", "attempt",
                        "last_event_id",
                    ])).collect::<Vec<_>>(),
                })
            }
            "get_customer" => {
                let c = db.customer(&tenant, r.get("id")?)?;
                json!({"id": c.id, "name": c.name, "stripe_customer_id": c.stripe_customer_id,
                       "stripe_payment_method_id": c.stripe_payment_method_id,
                       "stripe_payment_method_name": c.stripe_payment_method_name})
            }
            "outbox" => {
                let mut mail = db.emails(&tenant, 1000)?;
                mail.reverse();
                mail.iter()
                    .map(|m| json!({"from": m.from, "to": m.to, "cc": m.cc, "subject": m.subject}))
                    .collect()
            }
            _ => return self.export(app, &tenant, op, r),
        })
    }

    fn create_invoice(&self, db: &dyn Database, tenant: &TenantId, r: &Request) -> Answer {
        let customer_id = r.get("customer_id")?;
        let currency: String = r.get("currency")?;
        let issue_date: String = r.get("issue_date")?;
        let lines: Vec<(String, i64)> = r.get("lines")?;
        // Only a recurring invoice's invoices are ever charged automatically: make the schedule.
        let recurring_invoice_id = if r.get::<Option<bool>>("recurring")?.unwrap_or(false) {
            let schedule = db.create_recurring(
                tenant,
                &NewRecurring {
                    customer_id,
                    user_id: r.get("user_id")?,
                    currency: currency.clone(),
                    description: lines.first().map(|l| l.0.clone()).unwrap_or_default(),
                    amount: lines.iter().map(|l| l.1).sum(),
                    interval_months: 1,
                    next_date: "2999-01-01".into(),
                    due_days: 0,
                },
            )?;
            Some(schedule.id)
        } else {
            None
        };
        let new = NewInvoice {
            number: r.get("number")?,
            customer_id,
            user_id: r.get("user_id")?,
            currency,
            issue_date,
            due_date: r.get("due_date")?,
            recurring_invoice_id,
            lines,
        };
        Ok(json!({"id": db.create_invoice(tenant, &new)?.id}))
    }

    /// The plugin's exports, each in a fresh sandbox.
    fn export(&self, app: &App, tenant: &TenantId, op: &str, r: &Request) -> Answer {
        let customer = || r.get::<i64>("customer_id");
        Ok(match op {
            "test_connection" => {
                let key = r.get::<Option<String>>("candidate_key")?.map(Secret::new);
                let a = app.test_connection(tenant, key)?;
                json!({"account_id": a.account_id, "livemode": a.livemode})
            }
            "generate_mappings" => wire::mapping_report(&app.generate_mappings(tenant)?),
            "add_mapping" => {
                app.add_mapping(tenant, customer()?, &r.get::<String>("stripe_customer_id")?)?;
                Value::Null
            }
            "list_payment_methods" => {
                wire::payment_methods(&app.list_payment_methods(tenant, customer()?)?)
            }
            "set_automatic_payment_method" => {
                let pm: Option<String> = r.get("payment_method_id")?;
                json!(app.set_automatic_payment_method(tenant, customer()?, pm.as_deref())?)
            }
            "customer_saved" => wire::sync_outcome(&app.customer_saved(tenant, customer()?)?),
            "quote" => {
                let items: Vec<Value> = r.get("items")?;
                let items = items
                    .iter()
                    .map(|i| {
                        let r = Request(i);
                        Ok(payments::QuoteItem {
                            invoice_id: r.get("invoice_id")?,
                            invoice_number: r.get("invoice_number")?,
                            currency: r.get("currency")?,
                            amount_due: r.get("amount_due")?,
                        })
                    })
                    .collect::<Result<Vec<_>, Failure>>()?;
                let method = wire::method_from(r.value("method_type"))?;
                wire::quotation(&app.quote(tenant, &items, method)?)
            }
            "start_payment" => {
                let request = payments::PaymentRequest {
                    invoices: r.get("invoices")?,
                    pay_with: wire::pay_with_from(r.value("pay_with"))?,
                    initiator: wire::initiator_from(r.value("initiator"))?,
                    return_url: r.get("return_url")?,
                };
                wire::payment_started(&app.start_payment(tenant, &request)?)
            }
            "webhook" => {
                let body: String = r.get("body")?;
                let secret = app
                    .db()
                    .webhook_secret(tenant)?
                    .ok_or_else(|| Failure::new("not-configured", "no webhook endpoint"))?;
                paydesk_host::webhook_signature::verify(
                    r.get::<Option<String>>("signature")?.as_deref(),
                    body.as_bytes(),
                    secret.expose().as_bytes(),
                    paydesk_host::db::now(),
                )
                .map_err(|e| Failure::new("invalid-signature", e.to_string()))?;
                wire::event_outcome(&app.webhook_received(tenant, body)?)
            }
            "autopay_plan" => wire::plan(&app.autopay_plan(tenant, &r.get::<String>("date")?)?),
            "autopay_charge" => {
                let date: String = r.get("date")?;
                wire::autopay_result(&app.autopay_charge(tenant, r.get("invoice_id")?, &date)?)
            }
            "render" => json!(app.render_plugin_variables(
                tenant,
                customer()?,
                &r.get::<String>("text")?,
                false
            )?),
            "bench" => bench(app, tenant, &r.get::<String>("what")?, r.get("n")?)?,
            other => return Err(Failure::new("bad-request", format!("unknown op `{other}`"))),
        })
    }
}

/// Some fields of a JSON object.
fn pick(v: &Value, names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| (n.to_string(), v[*n].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The components this driver runs, written to `dir`, for other hosts to run the same bytes.
fn components(r: &Request) -> Answer {
    let dir = PathBuf::from(r.get::<String>("dir")?);
    let write = |name: &str, bytes: &[u8]| -> Result<String, Failure> {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| Failure::new("unavailable", format!("{}: {e}", path.display())))?;
        Ok(path.display().to_string())
    };
    Ok(json!({
        "plugin": write("paydesk_plugin.wasm", EMBEDDED_PLUGIN)?,
        "abusive": write("paydesk_abusive_guest.wasm", paydesk_tests::ABUSIVE_WASM)?,
    }))
}

/// `n` fresh calls (`fresh`: a store and instance, no export; `quote`: plus one quote), timed here.
fn bench(app: &App, tenant: &TenantId, what: &str, n: usize) -> Answer {
    let item = payments::QuoteItem {
        invoice_id: 1,
        invoice_number: "INV-1".into(),
        currency: "usd".into(),
        amount_due: 12345,
    };
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        match what {
            "fresh" => {
                let ctx = app.context(tenant, None)?;
                app.runtime
                    .call(&app.services, ctx, |_, _| Ok(()))
                    .map_err(|e| Failure::from(paydesk_host::app::CallError::from(e)))?;
            }
            _ => {
                app.quote(tenant, std::slice::from_ref(&item), PaymentMethodType::Card)?;
            }
        }
        times.push(started.elapsed().as_nanos() as u64);
    }
    times.sort_unstable();
    let mean = times.iter().sum::<u64>() / n.max(1) as u64;
    Ok(json!({"n": n, "median_ns": times.get(n / 2), "mean_ns": mean}))
}

fn main() {
    let mut driver = Driver {
        app: None,
        dir: tempfile::tempdir().expect("a temp dir for the driver's databases"),
        starts: 0,
    };
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let (seq, answer) = match serde_json::from_str::<Value>(&line) {
            Ok(request) => {
                let op = request["op"].as_str().unwrap_or_default().to_string();
                (
                    request["seq"].clone(),
                    driver.handle(&op, Request(&request)),
                )
            }
            Err(e) => (Value::Null, Err(Failure::new("bad-request", e.to_string()))),
        };
        let answer = match answer {
            Ok(ok) => json!({"seq": seq, "ok": ok}),
            Err(e) => json!({"seq": seq, "error": e.to_json()}),
        };
        let mut out = stdout.lock();
        writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .expect("stdout");
    }
}
