//! Who may do what on the web side, each role checked in one function over the signed-in
//! principal — the API's bearer token ([`super::api::caller::Caller`]) and the pages' session
//! ([`super::pages::session::Viewer`]) alike; each side words a refusal its own way
//! (`From<Refused>` for its error). Which invoices a portal user sees is [`crate::access`]'s rule.

use crate::contract::{Agent, InvoiceAccessLevel, User};
use crate::db::Principal;

/// Why a role check refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Only the tenant's agents may do this.
    NotAnAgent,
    /// Only the tenant's administrators may do this.
    NotAnAdmin,
    /// This is for the portal's users.
    NotAPortalUser,
    /// The portal user's invoice access level shows no invoices.
    NoInvoiceAccess,
}

/// An agent of the tenant.
pub fn agent(p: &Principal) -> Result<&Agent, Refused> {
    match p {
        Principal::Agent(a) => Ok(a),
        Principal::User(_) => Err(Refused::NotAnAgent),
    }
}

/// An administrator: an agent with the admin permission (settings, mappings, webhooks, people).
pub fn admin(p: &Principal) -> Result<&Agent, Refused> {
    agent(p).and_then(|a| {
        if a.is_admin {
            Ok(a)
        } else {
            Err(Refused::NotAnAdmin)
        }
    })
}

/// A portal user, whatever their invoice access level.
pub fn portal_user(p: &Principal) -> Result<&User, Refused> {
    match p {
        Principal::User(u) => Ok(u),
        Principal::Agent(_) => Err(Refused::NotAPortalUser),
    }
}

/// A portal user whose invoice access level shows invoices: the portal's payer.
pub fn payer(p: &Principal) -> Result<&User, Refused> {
    portal_user(p).and_then(|u| {
        if u.invoice_access_level == InvoiceAccessLevel::None {
            Err(Refused::NoInvoiceAccess)
        } else {
            Ok(u)
        }
    })
}

/// Anyone who may list invoices: an agent, or a payer (who sees only what their level shows).
pub fn invoice_reader(p: &Principal) -> Result<(), Refused> {
    match p {
        Principal::Agent(_) => Ok(()),
        Principal::User(_) => payer(p).map(|_| ()),
    }
}
