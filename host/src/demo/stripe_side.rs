//! What the demo does at Stripe in others' place: registering its webhook receiver with
//! localstripe (which has `/_config/webhooks` instead of Stripe's webhook endpoints), and the part
//! Stripe.js plays in a payer's browser — confirming a SetupIntent or a PaymentIntent with a test
//! card. Only `paydesk demo` uses this; the product's own Stripe calls are the plugin's, through
//! the host's `http` capability.
//!
//! Stripe.js confirms with the publishable key and the intent's client secret; localstripe accepts
//! only secret keys for confirming a PaymentIntent, so the stand-in uses the tenant's secret key
//! (real Stripe accepts that too, in test mode, with a test card such as `pm_card_visa`).

use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::secret::Secret;

/// Stripe's test card that always succeeds (Visa ending 4242).
pub const TEST_CARD: &str = "pm_card_visa";

/// Requests to one Stripe API base with one key.
pub struct StripeSide<'a> {
    base: &'a str,
    key: &'a Secret,
    agent: ureq::Agent,
}

impl<'a> StripeSide<'a> {
    pub fn new(base: &'a str, key: &'a Secret) -> StripeSide<'a> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        StripeSide { base, key, agent }
    }

    /// localstripe's `POST /_config/webhooks/{name}`: it then signs every event with `secret`, as
    /// Stripe does, and posts it to `url`. `Ok(false)` when the Stripe at the base has no such
    /// route (it is not localstripe).
    pub fn register_localstripe_webhook(
        &self,
        name: &str,
        url: &str,
        secret: &Secret,
    ) -> anyhow::Result<bool> {
        let response = self
            .agent
            .post(format!("{}/_config/webhooks/{name}", self.base))
            .send_form([("url", url), ("secret", secret.expose())])
            .with_context(|| format!("registering the webhook receiver with {}", self.base))?;
        Ok(response.status().is_success())
    }

    /// Stripe.js's `confirmCardSetup`: the card goes onto the SetupIntent, which succeeds.
    pub fn confirm_setup(&self, setup_intent: &str, card: &str) -> anyhow::Result<()> {
        let status = self.post(
            &format!("/v1/setup_intents/{setup_intent}/confirm"),
            &[("payment_method", card)],
        )?;
        if status != "succeeded" {
            bail!("SetupIntent {setup_intent} is {status} after confirming the test card");
        }
        Ok(())
    }

    /// Stripe.js's `confirmCardPayment` with a new card: the card goes onto the PaymentIntent,
    /// which is then confirmed. Stripe tells the server by webhook.
    pub fn confirm_payment(&self, intent: &str, card: &str) -> anyhow::Result<String> {
        self.post(
            &format!("/v1/payment_intents/{intent}"),
            &[("payment_method", card)],
        )?;
        self.post(&format!("/v1/payment_intents/{intent}/confirm"), &[])
    }

    /// POST a form; the object's `status`.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<String> {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.key.expose()))
            .send_form(form.iter().copied())
            .with_context(|| format!("POST {path} at {}", self.base))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("POST {path}: reading Stripe's answer"))?;
        let body: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("POST {path}: Stripe's answer ({status}) is not JSON"))?;
        if status != 200 {
            let message = body["error"]["message"].as_str().unwrap_or("no message");
            bail!("POST {path}: Stripe answered {status}: {message}");
        }
        Ok(body["status"].as_str().unwrap_or_default().to_string())
    }
}
