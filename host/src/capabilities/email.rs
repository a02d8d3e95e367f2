//! The `email` import: messages from the tenant's invoice mailbox into the outbox (the embedded
//! default); `crate::mailer` delivers the outbox over SMTP when configured. A repeated dedup key
//! queues nothing. A message with a recipient that is no email address (`crate::addresses`) is
//! kept in the outbox as failed, with the reason, and the call answers `invalid`.

use std::sync::Arc;

use super::{Observer, host_error};
use crate::addresses;
use crate::contract::HostError;
use crate::contract::paydesk::stripe::email::{Host, Message};
use crate::db::Database;
use crate::db::NewEmail;
use crate::tenant::TenantId;

/// The email capability of one call: the tenant whose mailbox sends and whose outbox queues.
pub struct EmailCtx {
    pub(super) tenant: TenantId,
    pub(super) db: Arc<dyn Database>,
    pub(super) observer: Observer,
}

/// Most recipients (to + cc) on one message.
const MAX_RECIPIENTS: usize = 50;
/// Largest body (html + text), bytes.
const MAX_BODY: usize = 512 << 10;

impl Host for EmailCtx {
    fn send(&mut self, message: Message) -> wasmtime::Result<Result<bool, HostError>> {
        let outcome = self.enqueue(message);
        Ok(self.observer.observed("email.send", outcome))
    }
}

impl EmailCtx {
    fn enqueue(&self, message: Message) -> Result<bool, HostError> {
        if message.to.is_empty() {
            return Err(HostError::Invalid("a message needs a recipient".into()));
        }
        if message.to.len() + message.cc.len() > MAX_RECIPIENTS {
            return Err(HostError::Invalid(format!(
                "at most {MAX_RECIPIENTS} recipients per message"
            )));
        }
        if message.html.len() + message.text.len() > MAX_BODY {
            return Err(HostError::Invalid(format!(
                "bodies are at most {MAX_BODY} bytes"
            )));
        }
        // A recipient that is no address: the message is kept, failed, with the reason, so the
        // outbox shows what was not sent and why; the caller is told too.
        let bad: Vec<String> = message
            .to
            .iter()
            .chain(&message.cc)
            .filter_map(|a| addresses::check(a).err())
            .collect();
        let undeliverable = (!bad.is_empty()).then(|| format!("not sent: {}", bad.join("; ")));
        let tenant = self.tenant.clone();
        let db = self.db.clone();
        let outcome = db.tenant(&tenant).and_then(|t| {
            db.enqueue_email(
                &tenant,
                &t.invoice_mailbox,
                &NewEmail {
                    to: message.to,
                    cc: message.cc,
                    subject: message.subject,
                    html: message.html,
                    text: message.text,
                    dedup_key: message.dedup_key,
                    undeliverable: undeliverable.clone(),
                },
            )
        });
        let queued = outcome.map_err(|e| host_error(tenant.as_str(), e))?;
        match undeliverable {
            Some(why) => Err(HostError::Invalid(why)),
            None => Ok(queued),
        }
    }
}
