//! Template variables the plugin renders: the host asks the plugin which names it
//! renders and substitutes their values for a customer in invoice documents and emails.

use super::{App, CallError};
use crate::contract::PluginError;
use crate::tenant::TenantId;

impl App {
    /// `text` with every plugin variable (`$-PAYMENTMETHOD`, …) replaced by its value for `customer`;
    /// values are HTML-escaped when `html` is set.
    pub fn render_plugin_variables(
        &self,
        tenant: &TenantId,
        customer: i64,
        text: &str,
        html: bool,
    ) -> Result<String, CallError> {
        let ctx = self.context(tenant, None)?;
        let text = text.to_string();
        self.call_in(ctx, "templates.render-variable", &customer, move |p, s| {
            let templates = p.paydesk_stripe_templates();
            let mut out = text;
            for name in templates.call_variables(&mut *s)? {
                if !out.contains(&name) {
                    continue;
                }
                match templates.call_render_variable(&mut *s, &name, customer)? {
                    Ok(Some(value)) if html => {
                        out =
                            out.replace(&name, &paydesk_plugin::domain::emails::escape_html(&value))
                    }
                    Ok(Some(value)) => out = out.replace(&name, &value),
                    Ok(None) => {}
                    Err(e) => return Ok(Err::<String, PluginError>(e)),
                }
            }
            Ok(Ok(out))
        })
    }
}
