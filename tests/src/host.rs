//! [`TestHost`]: a paydesk app on a temporary database, pointed at a Stripe base of the test's
//! choosing (usually a [`crate::recorder::StripeRecorder`] in front of localstripe), with helpers to
//! seed tenants the way an admin would.

use std::path::PathBuf;
use std::sync::Arc;

use paydesk_host::app::{App, AppConfig};
use paydesk_host::capabilities::HttpConfig;
use paydesk_host::db::{Database, SqliteDb};
use paydesk_host::runtime::{Limits, RuntimeConfig};
use paydesk_host::settings::TenantSettings;
use paydesk_host::tenant::{Secret, TenantId};

/// A paydesk app for one test.
pub struct TestHost {
    pub app: Arc<App>,
    pub db_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestHost {
    /// The real plugin, default limits, Stripe at `stripe_base`.
    pub fn new(stripe_base: &str) -> TestHost {
        Self::with_runtime(stripe_base, RuntimeConfig::default())
    }

    /// A custom component and limits.
    pub fn with_runtime(stripe_base: &str, runtime: RuntimeConfig) -> TestHost {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("paydesk.db");
        let db: Arc<dyn Database> = Arc::new(SqliteDb::open(&db_path).expect("open database"));
        let app = App::new(
            db,
            AppConfig {
                stripe_api_base: stripe_base.trim_end_matches('/').to_string(),
                runtime,
                http: HttpConfig::default(),
            },
        )
        .expect("start the app");
        TestHost {
            app: Arc::new(app),
            db_path,
            _dir: dir,
        }
    }

    /// The abusive guest with tight limits.
    pub fn abusive(limits: Limits) -> TestHost {
        Self::with_runtime(
            "http://127.0.0.1:9",
            RuntimeConfig {
                wasm: Some(crate::ABUSIVE_WASM.to_vec()),
                cache_dir: None,
                limits,
            },
        )
    }

    pub fn db(&self) -> &dyn Database {
        self.app.db()
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
        self.db()
            .save_settings_and_key(&id, &settings, Some(&Secret::new(secret_key)))
            .expect("save settings");
        id
    }
}
