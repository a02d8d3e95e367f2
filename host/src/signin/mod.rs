//! Signing in an agent or a portal user by tenant, email and password, built so that an attacker
//! cannot turn it into an outage: every attempt first passes the throttle (per account and per
//! client address, [`throttle`], counted in the database so several hosts share it), then waits
//! for the password pool ([`passwords`]: a fixed number of argon2 workers with their own memory
//! and a bounded queue), which checks unknown accounts against a dummy hash so they take as long
//! as known ones. A browser that signed in to an account before carries a device token; its
//! attempts are counted apart from everyone else's, so a stranger's failures never lock the owner
//! out of the browsers they use. When an account's failures reach the lockout, its owner is told
//! by email (through the outbox), once per streak. Every failure is logged (never a password).

pub mod passwords;
pub use crate::throttle;

use std::net::IpAddr;

use crate::app::App;
use crate::db::{DbError, NewEmail, Principal, SignInAccount};
use crate::tenant::{Secret, TenantId};
use throttle::{ACCOUNT, ADDRESS, Counter};

/// How long a remembered browser stays remembered.
pub const DEVICE_SECONDS: i64 = 90 * 86_400;

/// One sign-in attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub tenant: TenantId,
    /// An agent (else a portal user).
    pub agent: bool,
    pub email: String,
    pub password: String,
    /// The client's address (the peer, or what the TLS proxy says).
    pub client: IpAddr,
    /// The device token the browser sent, if any.
    pub device: Option<String>,
}

/// What came of it.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in: the principal, and a device token to remember the browser by (when it has no
    /// live one for this account yet).
    SignedIn {
        principal: Principal,
        device: Option<Secret>,
    },
    /// Unknown account, wrong password, or a disabled person: one answer for all.
    Refused,
    /// Too many failures: try again in this many seconds.
    Wait(i64),
    /// Every password worker is busy and the queue is full.
    Busy,
}

/// The sign-in service of a web server.
pub struct SignIn {
    pool: passwords::PasswordPool,
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// `tenant:role:email`, the name a device token and an account counter go by.
fn account_name(a: &Attempt) -> String {
    format!(
        "{}:{}:{}",
        a.tenant,
        if a.agent { "agent" } else { "portal" },
        a.email.trim().to_lowercase()
    )
}

/// Run blocking database work off the async threads.
async fn blocking<T: Send + 'static>(
    app: &std::sync::Arc<App>,
    f: impl FnOnce(&App) -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| DbError::Invalid(format!("a sign-in step failed: {e}")))?
}

impl SignIn {
    pub fn start(config: passwords::PoolConfig) -> std::io::Result<SignIn> {
        Ok(SignIn {
            pool: passwords::PasswordPool::start(config)?,
        })
    }

    /// Try to sign in.
    pub async fn attempt(
        &self,
        app: &std::sync::Arc<App>,
        attempt: Attempt,
    ) -> Result<Outcome, DbError> {
        // A place at the password pool first: a flood that finds it full is refused before it
        // counts against anyone's throttle (an attacker must not lock others out this way).
        let Ok(place) = self.pool.reserve() else {
            tracing::warn!(tenant = %attempt.tenant, client = %attempt.client,
                "sign-in refused: every password check is busy");
            return Ok(Outcome::Busy);
        };
        let account = account_name(&attempt);
        let a = attempt.clone();
        let name = account.clone();
        let (key, known_device, found, admitted) = blocking(app, move |app| {
            let db = app.db();
            let device = a
                .device
                .as_deref()
                .filter(|d| db.remembered_account(d).ok().flatten().as_deref() == Some(&name));
            let key = match device {
                Some(d) => format!("device:{}", sha256_hex(d)),
                None => format!("account:{name}"),
            };
            let keys = [
                (key.clone(), ACCOUNT),
                (throttle::address_key(a.client), ADDRESS),
            ];
            let admitted = db.admit_sign_in(&keys, crate::db::now())?;
            let found = match admitted {
                Ok(_) => db.sign_in_account(&a.tenant, a.agent, &a.email)?,
                Err(_) => None,
            };
            Ok((key, device.is_some(), found, admitted))
        })
        .await?;
        let counters = match admitted {
            Ok(c) => c,
            Err(wait) => {
                tracing::warn!(tenant = %attempt.tenant, agent = attempt.agent, email = %attempt.email,
                    client = %attempt.client, retry_after_s = wait, "sign-in refused: too many failures");
                return Ok(Outcome::Wait(wait));
            }
        };
        let hash = found.as_ref().and_then(|f| f.password_hash.clone());
        let matched = match self.pool.verify(place, &attempt.password, hash).await {
            Ok(m) => m,
            Err(passwords::Busy) => {
                tracing::warn!(tenant = %attempt.tenant, client = %attempt.client,
                    "sign-in refused: every password check is busy");
                return Ok(Outcome::Busy);
            }
        };
        match (matched, found) {
            (true, Some(found)) => {
                let a = attempt.clone();
                blocking(app, move |app| {
                    let db = app.db();
                    db.clear_sign_in_counter(&key)?;
                    let principal = if a.agent {
                        Principal::Agent(db.agent(&a.tenant, found.id)?)
                    } else {
                        Principal::User(db.user(&a.tenant, found.id)?)
                    };
                    let device = if known_device {
                        None
                    } else {
                        Some(db.remember_device(&a.tenant, &account, DEVICE_SECONDS)?)
                    };
                    tracing::info!(tenant = %a.tenant, agent = a.agent, email = %found.email,
                        client = %a.client, "signed in");
                    Ok(Outcome::SignedIn { principal, device })
                })
                .await
            }
            (_, found) => {
                let failures = counters.first().copied().unwrap_or_default();
                tracing::warn!(tenant = %attempt.tenant, agent = attempt.agent, email = %attempt.email,
                    client = %attempt.client, known_account = found.is_some(),
                    failures = failures.failures, "failed sign-in");
                if let Some(found) = found.filter(|_| ACCOUNT.locks_at(failures.failures)) {
                    let (a, k) = (attempt.clone(), key.clone());
                    blocking(app, move |app| tell_owner(app, &a, &found, &k, failures)).await?;
                }
                Ok(Outcome::Refused)
            }
        }
    }
}

/// Queue the lockout email to the account's owner, once per streak of failures.
fn tell_owner(
    app: &App,
    a: &Attempt,
    account: &SignInAccount,
    key: &str,
    counter: Counter,
) -> Result<(), DbError> {
    let tenant = app.db().tenant(&a.tenant)?;
    let until = chrono::DateTime::from_timestamp(counter.next_allowed_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let role = if a.agent { "agent" } else { "customer portal" };
    let text = format!(
        "Hello {name},\n\nThere were {n} failed attempts to sign in to {org} ({role}) as {email}. \
         Sign-ins from browsers that have not signed in to this account before are refused until {until}; \
         the browsers you signed in with before are not affected.\n\n\
         If these attempts were not yours, tell your administrator. Nobody at {org} will ask for your password.\n",
        name = account.name,
        n = counter.failures,
        org = tenant.name,
        email = account.email,
    );
    let html = paydesk_plugin::domain::emails::text_to_html(&text);
    let queued = app.db().enqueue_email(
        &a.tenant,
        &tenant.invoice_mailbox,
        &NewEmail {
            to: vec![account.email.clone()],
            cc: Vec::new(),
            subject: format!("Sign-in to {} paused after failed attempts", tenant.name),
            html,
            text,
            dedup_key: Some(format!(
                "sign-in-lockout:{}:{}",
                sha256_hex(key),
                counter.first_failure_at
            )),
            undeliverable: None,
        },
    )?;
    if queued {
        tracing::warn!(tenant = %a.tenant, email = %account.email, failures = counter.failures,
            "sign-in locked out; the account's owner is told by email");
    }
    Ok(())
}
