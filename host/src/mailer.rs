//! Delivering the email outbox over SMTP (lettre) when `PAYDESK_SMTP_URL` is configured
//! (`smtp://host:port` for a local relay, `smtps://user:pass@host` or `smtp://…?tls=required` for a
//! real one). Messages stay queued when delivery fails and are tried again, up to five times.

use lettre::message::{Mailbox, MultiPart, header};
use lettre::{Message, SmtpTransport, Transport};

use crate::db::{Database, OutboxMessage};

/// Sends queued messages.
pub struct Mailer {
    transport: SmtpTransport,
}

fn mailbox(address: &str) -> Result<Mailbox, String> {
    address.parse().map_err(|e| format!("`{address}`: {e}"))
}

fn build(m: &OutboxMessage) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(mailbox(&m.from)?)
        .subject(m.subject.clone());
    for to in &m.to {
        builder = builder.to(mailbox(to)?);
    }
    for cc in &m.cc {
        builder = builder.cc(mailbox(cc)?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            m.html.clone(),
        ))
        .map_err(|e| e.to_string())
        .map(|mut message| {
            message
                .headers_mut()
                .set(header::ContentTransferEncoding::QuotedPrintable);
            message
        })
}

impl Mailer {
    /// A mailer for an SMTP URL.
    pub fn new(url: &str) -> anyhow::Result<Mailer> {
        let transport = SmtpTransport::from_url(url)
            .map_err(|e| anyhow::anyhow!("PAYDESK_SMTP_URL is not a usable SMTP URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Mailer { transport })
    }

    /// Send what is queued (oldest first, at most `limit`); returns how many went out. Each
    /// message is taken for `taken_seconds` first, so another host delivering at the same time
    /// takes other messages.
    pub fn deliver(
        &self,
        db: &dyn Database,
        limit: u32,
        taken_seconds: i64,
    ) -> anyhow::Result<usize> {
        let mut sent = 0;
        for m in db.take_emails(crate::app::holder_id(), limit, taken_seconds)? {
            let outcome = build(&m).and_then(|msg| {
                self.transport
                    .send(&msg)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            match outcome {
                Ok(()) => {
                    db.mark_email(m.id, true, None)?;
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(tenant = m.tenant_id, email = m.id, error = %e, "email delivery failed; will retry");
                    db.mark_email(m.id, false, Some(&e))?;
                }
            }
        }
        Ok(sent)
    }
}
