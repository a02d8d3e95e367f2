//! Signing in and out: agents and portal users of a tenant, by email and password; the session
//! lives in an HttpOnly, SameSite=Lax cookie (Secure when the server's public URL is https).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::{
    Flash, PageError, SESSION_COOKIE, SESSION_SECONDS, Viewer, blocking, field, form_pairs, render,
    session_token,
};
use crate::db::Principal;
use crate::tenant::TenantId;
use crate::web::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    flash: String,
    error: String,
    tenant: String,
    email: String,
    role: String,
}

pub async fn form(Query(flash): Query<Flash>) -> Response {
    render(LoginPage {
        flash: flash.msg,
        error: String::new(),
        tenant: String::new(),
        email: String::new(),
        role: "portal".into(),
    })
}

pub async fn submit(State(state): State<AppState>, body: Bytes) -> Result<Response, PageError> {
    let pairs = form_pairs(&body);
    let tenant_text = field(&pairs, "tenant")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let email = field(&pairs, "email").unwrap_or("").trim().to_string();
    let password = field(&pairs, "password").unwrap_or("").to_string();
    let role = field(&pairs, "role").unwrap_or("portal").to_string();
    let secure = state
        .app
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let page = LoginPage {
        flash: String::new(),
        error: String::new(),
        tenant: tenant_text.clone(),
        email: email.clone(),
        role: role.clone(),
    };
    let Ok(tenant) = TenantId::parse(&tenant_text) else {
        return Ok(render(LoginPage {
            error: "Unknown organisation, email or password.".into(),
            ..page
        }));
    };
    let agent = role == "agent";
    let (email_c, tenant_c) = (email.clone(), tenant.clone());
    let session = blocking(&state, move |app| {
        let Some(principal) = app
            .db()
            .sign_in(&tenant_c, agent, &email_c, &password)
            .ok()
            .flatten()
        else {
            return Ok(None);
        };
        let (token, _) = app
            .db()
            .create_session(&tenant_c, &principal, SESSION_SECONDS)?;
        Ok(Some((principal, token)))
    })
    .await?;
    let Some((principal, token)) = session else {
        return Ok(render(LoginPage {
            error: "Unknown organisation, email or password.".into(),
            ..page
        }));
    };
    let target = match principal {
        Principal::Agent(_) => "/app",
        Principal::User(_) => "/portal",
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECONDS}{}",
        token.expose(),
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(target).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| PageError::not_found())?,
    );
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.check_csrf(field(&form_pairs(&body), "csrf").unwrap_or(""))?;
    if let Some(token) = session_token(&headers) {
        blocking(&state, move |app| Ok(app.db().end_session(&token)?)).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("paydesk_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}
