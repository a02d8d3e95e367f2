//! Who is looking at a page: the session cookie names a signed-in agent or portal user of one
//! tenant ([`Viewer`]; without a live session, the sign-in page), the roles a page asks for
//! ([`Viewer::agent`], [`Viewer::admin`], [`Viewer::payer`], checked by [`crate::web::roles`]),
//! the CSRF token every form and script call must carry, and the cookies the pages set.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use super::error::PageError;
use super::form::Form;
use crate::contract::{Agent, User};
use crate::db::Principal;
use crate::tenant::TenantId;
use crate::web::roles;
use crate::web::state::{AppState, WorkerLost, blocking};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "paydesk_session";
/// How long a session lasts.
pub const SESSION_SECONDS: i64 = 8 * 3600;

/// The messages the sign-in page shows about a session that ended, by the key in its URL
/// (`/login?msg=signed-out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    SignedOut,
    SessionEnded,
}

impl Notice {
    pub fn key(self) -> &'static str {
        match self {
            Notice::SignedOut => "signed-out",
            Notice::SessionEnded => "session-ended",
        }
    }

    pub fn text(key: &str) -> &'static str {
        match key {
            "signed-out" => "You have signed out.",
            "session-ended" => "Your session has ended. Sign in again.",
            _ => "",
        }
    }
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub tenant: TenantId,
    pub principal: Principal,
    pub csrf: String,
    pub token: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        roles::admin(&self.principal).is_ok()
    }

    /// The viewer as an agent of the tenant.
    pub fn agent(&self) -> Result<&Agent, PageError> {
        Ok(roles::agent(&self.principal)?)
    }

    /// The viewer as an administrator.
    pub fn admin(&self) -> Result<&Agent, PageError> {
        Ok(roles::admin(&self.principal)?)
    }

    /// The viewer as the portal's payer: a portal user whose access level shows invoices.
    pub fn payer(&self) -> Result<&User, PageError> {
        Ok(roles::payer(&self.principal)?)
    }

    /// Check a form's or a header's CSRF token, in constant time.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        if bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Form expired",
                "Reload the page and try again.",
            ))
        }
    }

    /// The CSRF token of a JSON request (`X-CSRF-Token`).
    pub fn check_csrf_header(&self, headers: &HeaderMap) -> Result<(), PageError> {
        self.check_csrf(
            headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    }

    /// A posted form's fields, once its CSRF token (field `csrf`) is checked.
    pub fn form(&self, body: &[u8]) -> Result<Form, PageError> {
        let form = Form::parse(body);
        self.check_csrf(form.field("csrf").unwrap_or(""))?;
        Ok(form)
    }
}

/// The value of cookie `name` in a request's cookies.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The session token in a request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    /// A live session's viewer; without one, the sign-in page (saying the session ended when the
    /// browser still had one: expired, signed out elsewhere, or its owner disabled or removed).
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = session_token(&parts.headers).filter(|t| !t.is_empty()) else {
            return Err(Redirect::to("/login").into_response());
        };
        let lookup = token.clone();
        let found = blocking(state, move |app| {
            Ok::<_, WorkerLost>(app.db().session(&lookup))
        })
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())?
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        match found {
            Some((tenant, principal, csrf)) => Ok(Viewer {
                tenant,
                principal,
                csrf,
                token,
            }),
            None => Err(
                Redirect::to(&format!("/login?msg={}", Notice::SessionEnded.key())).into_response(),
            ),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Viewer as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// A `Set-Cookie` value: HttpOnly, `SameSite` as given, `Secure` when the app is on https.
pub fn cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    same_site: &str,
) -> Result<axum::http::HeaderValue, PageError> {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.https {
        c.push_str("; Secure");
    }
    axum::http::HeaderValue::from_str(&c).map_err(|_| PageError::unavailable())
}
