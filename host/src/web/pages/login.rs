//! `/login` and `/logout`, signing in and out: agents and portal users of a tenant, by email and password, through
//! [`crate::signin`] (throttled, checked on the password pool). The form carries a CSRF token that
//! must match a cookie set with it (a cross-site form cannot sign a victim's browser in as
//! someone else), and a cross-site `Origin` is refused. A wrong sign-in answers 401, a throttled
//! or busy one 429 with `Retry-After`. The session lives in an HttpOnly, SameSite=Lax cookie,
//! `Secure` when the app is reached over https; a browser that signed in is remembered by a
//! device cookie, so strangers' failures do not lock its owner out. The sign-in page shows only
//! the messages named by a key of [`super::session::Notice`].

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use super::error::PageError;
use super::form::Form;
use super::respond::{Flash, render};
use super::session::{Notice, SESSION_COOKIE, SESSION_SECONDS, Viewer, cookie, cookie_value};
use super::words::duration_words;
use crate::db::Principal;
use crate::signin::{Attempt, DEVICE_SECONDS, Outcome};
use crate::tenant::TenantId;
use crate::web::state::{AppState, blocking};

/// The cookie the sign-in form's CSRF token is checked against.
const LOGIN_CSRF_COOKIE: &str = "paydesk_login";
/// The cookie that remembers a browser that signed in.
const DEVICE_COOKIE: &str = "paydesk_device";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    flash: String,
    error: String,
    csrf: String,
    tenant: String,
    email: String,
    role: String,
}

fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| PageError::unavailable())?;
    Ok(hex::encode(bytes))
}

/// The sign-in page with a fresh CSRF token (in the form and in its cookie).
fn login_page(
    state: &AppState,
    status: StatusCode,
    flash: &str,
    error: &str,
    form: (&str, &str, &str),
) -> Result<Response, PageError> {
    let csrf = random_token()?;
    let mut response = (
        status,
        render(LoginPage {
            flash: flash.into(),
            error: error.into(),
            csrf: csrf.clone(),
            tenant: form.0.into(),
            email: form.1.into(),
            role: form.2.into(),
        }),
    )
        .into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(
            state,
            LOGIN_CSRF_COOKIE,
            &csrf,
            "/login",
            Some(3600),
            "Strict",
        )?,
    );
    Ok(response)
}

pub async fn form(State(state): State<AppState>, Query(flash): Query<Flash>) -> Response {
    login_page(
        &state,
        StatusCode::OK,
        Notice::text(&flash.msg),
        "",
        ("", "", "portal"),
    )
    .unwrap_or_else(IntoResponse::into_response)
}

/// A cross-site form: `Origin` is sent and names neither the host asked nor the public URL's.
fn cross_site(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let public = public_url
        .and_then(crate::web::headers::origin_of)
        .map(|o| {
            o.split_once("://")
                .map_or(String::new(), |(_, h)| h.to_string())
        })
        .unwrap_or_default();
    !(origin_host.eq_ignore_ascii_case(host)
        || (!public.is_empty() && origin_host.eq_ignore_ascii_case(&public)))
}

pub async fn submit(
    State(state): State<AppState>,
    parts: Parts,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    let tenant_text = form
        .field("tenant")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let email = form.field("email").unwrap_or("").trim().to_string();
    let password = form.field("password").unwrap_or("").to_string();
    let role = form.field("role").unwrap_or("portal").to_string();
    let expected = cookie_value(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let sent = form.field("csrf").unwrap_or("");
    if expected.is_empty()
        || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
        || cross_site(&parts.headers, state.app.public_url.as_deref())
    {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            "",
            "The sign-in form expired. Sign in again.",
            (&tenant_text, &email, &role),
        );
    }
    let refused = |status: StatusCode, error: &str| {
        login_page(&state, status, "", error, (&tenant_text, &email, &role))
    };
    let Ok(tenant) = TenantId::parse(&tenant_text) else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "Unknown organisation, email or password.",
        );
    };
    let attempt = Attempt {
        tenant,
        agent: role == "agent",
        email: email.clone(),
        password,
        client: crate::web::client::address(&parts, state.trust_forwarded_for),
        device: cookie_value(&parts.headers, DEVICE_COOKIE),
    };
    let tenant = attempt.tenant.clone();
    let outcome = state
        .sign_in
        .attempt(&state.app, attempt)
        .await
        .map_err(PageError::from)?;
    let (principal, device) = match outcome {
        Outcome::SignedIn { principal, device } => (principal, device),
        Outcome::Refused => {
            return refused(
                StatusCode::UNAUTHORIZED,
                "Unknown organisation, email or password.",
            );
        }
        Outcome::Wait(seconds) => {
            let mut r = refused(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many failed sign-ins. Try again in {}.",
                    duration_words(seconds)
                ),
            )?;
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            return Ok(r);
        }
        Outcome::Busy => {
            let mut r = refused(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-ins at this moment. Try again in a few seconds.",
            )?;
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            return Ok(r);
        }
    };
    let p = principal.clone();
    let (token, _) = blocking(&state, move |app| -> Result<_, PageError> {
        Ok(app.db().create_session(&tenant, &p, SESSION_SECONDS)?)
    })
    .await?;
    let target = match principal {
        Principal::Agent(_) => "/app",
        Principal::User(_) => "/portal",
    };
    let mut response = Redirect::to(target).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie(
            &state,
            SESSION_COOKIE,
            token.expose(),
            "/",
            Some(SESSION_SECONDS),
            "Lax",
        )?,
    );
    h.append(
        header::SET_COOKIE,
        cookie(&state, LOGIN_CSRF_COOKIE, "", "/login", Some(0), "Strict")?,
    );
    if let Some(device) = device {
        h.append(
            header::SET_COOKIE,
            cookie(
                &state,
                DEVICE_COOKIE,
                device.expose(),
                "/login",
                Some(DEVICE_SECONDS),
                "Strict",
            )?,
        );
    }
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.form(&body)?;
    let token = viewer.token.clone();
    blocking(&state, move |app| -> Result<(), PageError> {
        Ok(app.db().end_session(&token)?)
    })
    .await?;
    let mut response =
        Redirect::to(&format!("/login?msg={}", Notice::SignedOut.key())).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&state, SESSION_COOKIE, "", "/", Some(0), "Lax")?,
    );
    Ok(response)
}
