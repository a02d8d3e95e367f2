//! [`TestHost`]: a paydesk app on a temporary database, pointed at a Stripe base of the test's
//! choosing (usually a [`crate::recorder::StripeRecorder`] in front of localstripe), with helpers to
//! seed tenants the way an admin would. Everything a host shows or hands out goes to the secret
//! sweep ([`crate::sweep`]): its log lines, every response its server sends, every value passed
//! into its component, and the secrets the tests give it.

use std::path::PathBuf;
use std::sync::Arc;

use paydesk_host::app::{App, AppConfig};
use paydesk_host::capabilities::{GuestInputObserver, HttpConfig};
use paydesk_host::db::{Database, NewAgent, PgDb, Principal, SqliteDb};
use paydesk_host::runtime::{Limits, RuntimeConfig};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};
use paydesk_host::web::server::ServerLimits;
use paydesk_host::web::{AppState, WebConfig};

use crate::sweep::{self, Kind};

/// A paydesk app for one test.
pub struct TestHost {
    pub app: Arc<App>,
    /// Servers started by `serve`, stopped (and their hold on the app released) on drop.
    servers: std::sync::Mutex<Vec<tokio::sync::oneshot::Sender<()>>>,
    /// Stripe.js for the pages (localstripe's fake one in browser tests).
    pub stripe_js_url: String,
    /// The SQLite file (unused on PostgreSQL).
    pub db_path: PathBuf,
    /// The PostgreSQL database's URL when the suite runs on PostgreSQL (`PAYDESK_TEST_DB`).
    pub database_url: Option<String>,
    /// The export names whose inputs the guest-input observer saw, in order.
    inputs_seen: Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl TestHost {
    /// The real plugin, default limits, Stripe at `stripe_base`. The compiled component is shared
    /// by every test through the on-disk cache (keyed by the component's hash), as `paydesk` does.
    pub fn new(stripe_base: &str) -> TestHost {
        Self::with_runtime(
            stripe_base,
            RuntimeConfig {
                cache_dir: Some(std::env::temp_dir().join("paydesk-test-component-cache")),
                // Many hosts live at once in the suite: keep each engine's instance pool small, or
                // their memory mappings add up past the kernel's limit.
                limits: Limits {
                    concurrent_instances: 8,
                    ..Limits::default()
                },
                ..RuntimeConfig::default()
            },
        )
    }

    /// A custom component and limits.
    pub fn with_runtime(stripe_base: &str, runtime: RuntimeConfig) -> TestHost {
        Self::on_database(stripe_base, runtime, None)
    }

    /// Another host on this host's database (the same SQLite file, or the same PostgreSQL
    /// database), with the default runtime: what a second `paydesk serve` would be.
    pub fn peer(&self) -> TestHost {
        Self::on_database(
            &self.app.stripe_api_base,
            RuntimeConfig {
                cache_dir: Some(std::env::temp_dir().join("paydesk-test-component-cache")),
                limits: Limits {
                    concurrent_instances: 8,
                    ..Limits::default()
                },
                ..RuntimeConfig::default()
            },
            Some((self.db_path.clone(), self.database_url.clone())),
        )
    }

    fn on_database(
        stripe_base: &str,
        runtime: RuntimeConfig,
        existing: Option<(PathBuf, Option<String>)>,
    ) -> TestHost {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db_path, database_url) = match existing {
            Some(found) => found,
            None => (
                dir.path().join("paydesk.db"),
                crate::postgres::selected().then(|| {
                    crate::postgres::Cluster::shared()
                        .new_database()
                        .expect("a test database")
                }),
            ),
        };
        let db: Arc<dyn Database> = match &database_url {
            Some(url) => Arc::new(PgDb::open(url).expect("open database")),
            None => Arc::new(SqliteDb::open(&db_path).expect("open database")),
        };
        crate::logs::capture();
        let mut app = App::new(
            db,
            AppConfig {
                stripe_api_base: stripe_base.trim_end_matches('/').to_string(),
                public_url: None,
                runtime,
                http: HttpConfig::default(),
                autopay_workers: paydesk_host::app::DEFAULT_AUTOPAY_WORKERS,
            },
        )
        .expect("start the app");
        let inputs_seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let seen = inputs_seen.clone();
        let observer: GuestInputObserver =
            Arc::new(move |name: &str, value: &dyn std::fmt::Debug| {
                sweep::record(Kind::GuestInputs, name, &format!("{value:?}"));
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(name.to_string());
            });
        Arc::get_mut(&mut app.services)
            .expect("the new app's services are not shared yet")
            .set_guest_input_observer(observer);
        TestHost {
            servers: std::sync::Mutex::new(Vec::new()),
            stripe_js_url: format!("{}/js.stripe.com/v3/", stripe_base.trim_end_matches('/')),
            app: Arc::new(app),
            db_path,
            database_url,
            inputs_seen,
            _dir: dir,
        }
    }

    /// Whether this host's database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url.is_some()
    }

    /// Run SQL statements on the host's database directly, as time or another host would change
    /// it (the text must suit the engine: see [`TestHost::is_postgres`]).
    pub fn sql(&self, statements: &str) {
        match &self.database_url {
            Some(url) => postgres::Client::connect(url, postgres::NoTls)
                .and_then(|mut c| c.batch_execute(statements))
                .unwrap_or_else(|e| panic!("{statements}: {e}")),
            None => rusqlite::Connection::open(&self.db_path)
                .and_then(|c| c.execute_batch(statements))
                .unwrap_or_else(|e| panic!("{statements}: {e}")),
        }
    }

    /// Let the leases of invoice `invoice`'s autopay claims run out, as time would (the plugin
    /// keeps them as JSON in its storage, `lease_until` in Unix seconds).
    pub fn expire_autopay_leases(&self, invoice: i64) {
        self.sql(&if self.is_postgres() {
            format!(
                "UPDATE plugin_kv SET value = convert_to(jsonb_set(convert_from(value, 'UTF8')::jsonb, '{{lease_until}}', '0')::text, 'UTF8')
                 WHERE key LIKE 'autopay/{invoice}/%'"
            )
        } else {
            format!(
                "UPDATE plugin_kv SET value = CAST(json_set(CAST(value AS TEXT), '$.lease_until', 0) AS BLOB)
                 WHERE key LIKE 'autopay/{invoice}/%'"
            )
        });
    }

    /// The integer a query (without parameters) answers, from the host's database.
    pub fn query_i64(&self, query: &str) -> i64 {
        match &self.database_url {
            Some(url) => postgres::Client::connect(url, postgres::NoTls)
                .and_then(|mut c| c.query_one(query, &[]))
                .map(|row| row.get::<_, i64>(0))
                .unwrap_or_else(|e| panic!("{query}: {e}")),
            None => rusqlite::Connection::open(&self.db_path)
                .and_then(|c| c.query_row(query, [], |r| r.get(0)))
                .unwrap_or_else(|e| panic!("{query}: {e}")),
        }
    }

    /// The export names whose inputs reached the guest-input observer (and so the secret sweep).
    pub fn inputs_seen(&self) -> Vec<String> {
        self.inputs_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The abusive guest with tight limits.
    pub fn abusive(limits: Limits) -> TestHost {
        Self::abusive_at("http://127.0.0.1:9", limits)
    }

    /// The abusive guest with tight limits, its requests going to `stripe_base`.
    pub fn abusive_at(stripe_base: &str, mut limits: Limits) -> TestHost {
        limits.concurrent_instances = limits.concurrent_instances.min(8);
        Self::with_runtime(
            stripe_base,
            RuntimeConfig {
                wasm: Some(crate::ABUSIVE_WASM.to_vec()),
                cache_dir: Some(std::env::temp_dir().join("paydesk-test-component-cache")),
                limits,
            },
        )
    }

    pub fn db(&self) -> &dyn Database {
        self.app.db()
    }

    /// Serve the web app on a free loopback port, on a thread of its own, for this host's lifetime,
    /// with the server loop and limits `paydesk serve` uses.
    pub fn serve(&self) -> ApiClient {
        self.serve_with(WebConfig::new(self.stripe_js_url.clone()))
    }

    /// [`TestHost::serve`] with a web configuration of the test's choosing.
    pub fn serve_with(&self, web: WebConfig) -> ApiClient {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(self.app.clone(), web).expect("the sign-in workers start");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.servers.lock().unwrap().push(stop);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let router = paydesk_host::web::router(state)
                    .layer(axum::middleware::from_fn(record_response));
                paydesk_host::web::server::run(listener, router, ServerLimits::default(), async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
            });
        });
        ApiClient { base, token: None }
    }

    /// An agent who signs in with `email` and `password`.
    pub fn agent_with_password(
        &self,
        tenant: &TenantId,
        email: &str,
        password: &str,
        is_admin: bool,
        can_receive: bool,
    ) {
        let agent = self
            .db()
            .create_agent(
                tenant,
                &NewAgent {
                    name: email.split('@').next().unwrap_or(email).into(),
                    email: email.into(),
                    can_receive_manual_stripe_payments: can_receive,
                    is_admin,
                },
            )
            .expect("create agent");
        self.db()
            .set_password(tenant, &Principal::Agent(agent), password)
            .expect("password");
    }

    /// Give the portal user with `email` a password.
    pub fn user_password(&self, tenant: &TenantId, email: &str, password: &str) {
        let user = self
            .db()
            .users(tenant)
            .unwrap()
            .into_iter()
            .find(|u| u.email == email)
            .expect("the user");
        self.db()
            .set_password(tenant, &Principal::User(user), password)
            .expect("password");
    }

    /// An admin agent of `tenant` and an API token for it.
    pub fn admin_token(&self, tenant: &TenantId) -> String {
        self.agent_token(tenant, true, true)
    }

    /// An agent of `tenant` with "Can Refund Stripe Payments" (and no other permission), and an
    /// API token for it.
    pub fn refund_agent_token(&self, tenant: &TenantId) -> String {
        let n = self.db().tenants().map(|t| t.len()).unwrap_or(0) + rand_suffix();
        let agent = self
            .db()
            .create_agent(
                tenant,
                &NewAgent {
                    name: format!("Refunder {n}"),
                    email: format!("refunder{n}@{tenant}.paydesk.test"),
                    can_receive_manual_stripe_payments: false,
                    is_admin: false,
                },
            )
            .expect("create agent");
        self.db()
            .set_can_refund(tenant, agent.id, true)
            .expect("grant refunds");
        self.db()
            .create_token(tenant, &Principal::Agent(agent), "test")
            .expect("token")
            .expose()
            .to_string()
    }

    /// An agent of `tenant` with the given permissions, and an API token for it.
    pub fn agent_token(&self, tenant: &TenantId, is_admin: bool, can_receive: bool) -> String {
        let n = self.db().tenants().map(|t| t.len()).unwrap_or(0) + rand_suffix();
        let agent = self
            .db()
            .create_agent(
                tenant,
                &NewAgent {
                    name: format!("Agent {n}"),
                    email: format!("agent{n}@{tenant}.paydesk.test"),
                    can_receive_manual_stripe_payments: can_receive,
                    is_admin,
                },
            )
            .expect("create agent");
        self.db()
            .create_token(tenant, &Principal::Agent(agent), "test")
            .expect("token")
            .expose()
            .to_string()
    }

    /// A tenant with the integration enabled, the given secret key and settings changed by `edit`.
    pub fn tenant(
        &self,
        id: &str,
        secret_key: &str,
        edit: impl FnOnce(&mut TenantSettings),
    ) -> TenantId {
        let id = TenantId::parse(id).expect("tenant id");
        self.db()
            .create_tenant(
                &id,
                &format!("Tenant {id}"),
                &format!("invoices@{id}.paydesk.test"),
            )
            .expect("create tenant");
        let mut settings = TenantSettings {
            enabled: true,
            stripe_public_key: Some("pk_test_paydesk".into()),
            ..TenantSettings::default()
        };
        edit(&mut settings);
        sweep::register_secret(secret_key);
        self.db()
            .save_settings_and_key(&id, &settings, Some(&Secret::new(secret_key)))
            .expect("save settings");
        id
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        for stop in self.servers.lock().unwrap().drain(..) {
            let _ = stop.send(());
        }
    }
}

/// Every response the server sends, whole, to the secret sweep (the request only by its line).
async fn record_response(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let label = format!("{} {}", request.method(), request.uri());
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let headers: String = parts
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    sweep::record(
        Kind::Responses,
        &format!("{label} -> {}", parts.status.as_u16()),
        &format!("{headers}\n{}", String::from_utf8_lossy(&bytes)),
    );
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn rand_suffix() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) * 1000
}

/// A JSON client of the served API.
#[derive(Clone)]
pub struct ApiClient {
    pub base: String,
    pub token: Option<String>,
}

/// An answer: status and JSON body (Null when the body is empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub text: String,
}

impl ApiClient {
    pub fn with_token(&self, token: &str) -> ApiClient {
        ApiClient {
            base: self.base.clone(),
            token: Some(token.to_string()),
        }
    }

    pub fn request(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Answer {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .new_agent();
        if let Some(key) = body
            .as_ref()
            .and_then(|b| b.get("stripe_secret_key"))
            .and_then(|k| k.as_str())
        {
            sweep::register_secret(key);
        }
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut response = match body {
            Some(b) => agent
                .run(
                    req.header("Content-Type", "application/json")
                        .body(b.to_string())
                        .unwrap(),
                )
                .expect("request"),
            None => agent.run(req.body(()).unwrap()).expect("request"),
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Answer { status, body, text }
    }

    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> Answer {
        self.request("POST", path, Some(body))
    }

    pub fn put(&self, path: &str, body: serde_json::Value) -> Answer {
        self.request("PUT", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: serde_json::Value) -> Answer {
        self.request("PATCH", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Answer {
        self.request("DELETE", path, None)
    }
}
