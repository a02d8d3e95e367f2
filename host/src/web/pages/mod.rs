//! The reference app's pages: sign-in, the agent side (invoices, the Stripe setup page, a
//! customer's Billing › Stripe section, an invoice with "Receive Payment (Manual)", people) and the
//! portal's "My Invoices". Server-rendered with askama; the only script is `static/paydesk.js`
//! for Stripe.js. Owns sessions (cookie), CSRF checks, page errors and the messages a page shows
//! after a redirect — kept by the server for the session, the URL carries only their id; the work
//! itself is `App`'s.

mod autopay;
mod customer;
mod dashboard;
mod invoice;
mod login;
mod mappings;
mod payment;
mod pdf;
mod people;
mod portal;
mod setup;

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::app::CallError;
use crate::app::new_card::NewCardError;
use crate::db::{DbError, Principal};
use crate::runtime::bindings::Agent;
use crate::tenant::TenantId;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "paydesk_session";
/// How long a session lasts.
pub const SESSION_SECONDS: i64 = 8 * 3600;

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/paydesk.js", get(script))
        .route("/static/paydesk.css", get(style))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/refresh/{intent}", post(portal::refresh))
        .route("/app", get(dashboard::dashboard))
        .route("/app/setup", get(setup::setup).post(setup::save_setup))
        .route("/app/setup/test-connection", post(setup::test_connection))
        .route("/app/setup/mappings", post(mappings::add_mapping))
        .route(
            "/app/setup/mappings/{id}/remove",
            post(mappings::remove_mapping),
        )
        .route(
            "/app/setup/mappings/generate",
            post(mappings::generate_mappings),
        )
        .route("/app/setup/autopay", post(autopay::autopay))
        .route("/app/customers/{id}", get(customer::customer))
        .route(
            "/app/customers/{id}/automatic-method",
            post(customer::set_automatic_method),
        )
        .route("/app/invoices/{id}", get(invoice::invoice))
        .route("/app/invoices/{id}/pay-saved", post(invoice::pay_saved))
        .route("/app/invoices/{id}/pay-new", post(invoice::pay_new))
        .route("/app/invoices/{id}/pdf", get(pdf::agent_pdf))
        .route("/app/payments/confirm", post(portal::confirm))
        .route("/app/people", get(people::people))
        .route("/app/people/agents/{id}", post(people::save_agent))
        .route("/app/people/users/{id}", post(people::save_user))
        .route(
            "/app/people/agents/{id}/disable",
            post(people::disable_agent),
        )
        .route("/app/people/agents/{id}/enable", post(people::enable_agent))
        .route("/app/people/agents/{id}/remove", post(people::remove_agent))
        .route("/app/people/users/{id}/disable", post(people::disable_user))
        .route("/app/people/users/{id}/enable", post(people::enable_user))
        .route("/app/people/users/{id}/remove", post(people::remove_user))
        .route("/app/people/tokens/{id}/revoke", post(people::revoke_token))
        .route("/portal", get(portal::invoices))
        .route("/portal/pay", get(portal::pay_page).post(portal::choose))
        .route("/portal/pay/confirm", post(portal::pay_saved))
        .route("/portal/pay/new", post(portal::pay_new))
        .route("/portal/payments/confirm", post(portal::confirm))
        .route(
            "/portal/payments/{intent}/authenticate",
            post(portal::authenticate),
        )
        .route("/portal/payment-method", get(portal::method_page))
        .route("/portal/payment-method/start", post(portal::start_method))
        .route(
            "/portal/payment-method/complete",
            post(portal::complete_method),
        )
        .route("/portal/stripe-portal", post(portal::stripe_portal))
        .route("/portal/invoices/{id}/pdf", get(pdf::portal_pdf))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/javascript")],
        include_str!("../../../static/paydesk.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css")],
        include_str!("../../../static/paydesk.css"),
    )
}

async fn home(viewer: Option<Viewer>) -> Redirect {
    match viewer {
        Some(v) if matches!(v.principal, Principal::Agent(_)) => Redirect::to("/app"),
        Some(_) => Redirect::to("/portal"),
        None => Redirect::to("/login"),
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
        matches!(&self.principal, Principal::Agent(a) if a.is_admin)
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
}

/// The session token in a request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
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
        let app = state.app.clone();
        let lookup = token.clone();
        let found = tokio::task::spawn_blocking(move || app.db().session(&lookup))
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
                Redirect::to(&format!("/login?msg={}", login::Notice::SessionEnded.key()))
                    .into_response(),
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

/// The viewer as an agent.
pub fn agent(viewer: &Viewer) -> Result<&Agent, PageError> {
    match &viewer.principal {
        Principal::Agent(a) => Ok(a),
        Principal::User(_) => Err(PageError::forbidden("This page is for agents.")),
    }
}

/// The viewer as an administrator.
pub fn admin(viewer: &Viewer) -> Result<&Agent, PageError> {
    let a = agent(viewer)?;
    if a.is_admin {
        Ok(a)
    } else {
        Err(PageError::forbidden(
            "Only administrators can change the Stripe integration.",
        ))
    }
}

/// A page that could not be shown.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    heading: String,
    message: String,
}

impl PageError {
    pub fn new(status: StatusCode, heading: &str, message: impl Into<String>) -> PageError {
        PageError {
            status,
            heading: heading.into(),
            message: message.into(),
        }
    }

    pub fn not_found() -> PageError {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here for you.",
        )
    }

    pub fn forbidden(message: &str) -> PageError {
        PageError::new(StatusCode::FORBIDDEN, "Not allowed", message)
    }

    pub fn unavailable() -> PageError {
        PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Something went wrong",
            "Try again in a moment.",
        )
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    flash: &'a str,
    heading: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            flash: "",
            heading: &self.heading,
            message: &self.message,
        };
        (
            self.status,
            Html(page.render().unwrap_or_else(|_| self.message.clone())),
        )
            .into_response()
    }
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound(_) => PageError::not_found(),
            other => {
                tracing::error!(error = %other, "database error on a page");
                PageError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Try again in a moment.",
                )
            }
        }
    }
}

impl From<NewCardError> for PageError {
    fn from(e: NewCardError) -> Self {
        match e {
            NewCardError::Invoices(e) => e.into(),
            NewCardError::Call(e) => e.into(),
        }
    }
}

impl From<CallError> for PageError {
    fn from(e: CallError) -> Self {
        let api = super::error::ApiError::from(e);
        if api.body.error.message == super::error::NOTHING_OF_YOURS {
            // One answer for "not there" and "not yours".
            return PageError::not_found();
        }
        PageError::new(api.status, "That did not work", api.body.error.message)
    }
}

/// Render a template, or a plain 500.
pub fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A JSON answer for page scripts.
pub fn json_result(r: Result<serde_json::Value, PageError>) -> Result<Response, PageError> {
    Ok(match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => (e.status, Json(json!({"error": {"message": e.message}}))).into_response(),
    })
}

/// Run blocking work for a page.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&crate::app::App) -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    let app = state.app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|_| {
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Try again.",
            )
        })?
}

pub use crate::access::money;

/// Form fields as (name, value) pairs, repeated names kept.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of `name`.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A redirect to `path` with a message the next page shows: the server keeps the text for this
/// session and the URL carries only its id (`?msg=…`). If it cannot be kept, the redirect goes
/// without it.
pub fn redirect_with(
    app: &crate::app::App,
    viewer: &Viewer,
    path: &str,
    message: &str,
) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    match app.db().save_flash(&viewer.token, message) {
        Ok(id) => Redirect::to(&format!("{path}{sep}msg={id}")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "keeping a page message");
            Redirect::to(path).into_response()
        }
    }
}

/// [`redirect_with`] from async code.
pub async fn bounce(
    state: &AppState,
    viewer: &Viewer,
    path: &str,
    message: &str,
) -> Result<Response, PageError> {
    let (v, path, message) = (viewer.clone(), path.to_string(), message.to_string());
    blocking(state, move |app| {
        Ok(redirect_with(app, &v, &path, &message))
    })
    .await
}

/// `?msg=` of the request: the id of a message the server kept for this session.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Flash {
    #[serde(default)]
    pub msg: String,
}

impl Flash {
    /// The message's text, if the server kept one under this id for `viewer`'s session.
    pub fn text(&self, app: &crate::app::App, viewer: &Viewer) -> String {
        if self.msg.is_empty() || self.msg.len() > 64 {
            return String::new();
        }
        app.db()
            .flash(&viewer.token, &self.msg)
            .ok()
            .flatten()
            .unwrap_or_default()
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

/// `12 seconds`, `3 minutes`: a wait, for people.
pub fn duration_words(seconds: i64) -> String {
    match seconds.max(1) {
        1 => "1 second".into(),
        s if s < 90 => format!("{s} seconds"),
        s => format!("{} minutes", (s + 59) / 60),
    }
}
