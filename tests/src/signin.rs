//! Signing in to the pages with a plain HTTP client, as a browser does: fetch `/login` for its
//! CSRF token and cookie, post the form with both, and keep the session cookie. Redirects are not
//! followed; every answer goes to the secret sweep through the server's own recorder.

use std::time::Duration;

/// A page answer, redirects not followed.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub location: String,
    /// Every `Set-Cookie` value, in order.
    pub set_cookies: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Reply {
    /// The `name=value` part of the cookie `name` this answer sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies
            .iter()
            .map(|c| c.split(';').next().unwrap_or("").to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request: `cookies` as a `Cookie` header, `form` as an urlencoded body.
pub fn send(
    base: &str,
    method: &str,
    path: &str,
    cookies: &[String],
    headers: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
) -> Reply {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if !cookies.is_empty() {
        request = request.header("Cookie", cookies.join("; "));
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut response = match form {
        Some(fields) => agent.run(
            request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(fields).unwrap())
                .unwrap(),
        ),
        None => agent.run(request.body(()).unwrap()),
    }
    .expect("the page answers");
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let set_cookies = headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.clone())
        .collect();
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let bytes = response.body_mut().read_to_vec().unwrap_or_default();
    Reply {
        status: response.status().as_u16(),
        location,
        set_cookies,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The sign-in form's CSRF token and its cookie, from `GET /login`.
pub fn login_form(base: &str) -> (String, String) {
    let page = send(base, "GET", "/login", &[], &[], None);
    assert_eq!(page.status, 200, "{}", page.text);
    let cookie = page
        .cookie("paydesk_login")
        .expect("the sign-in CSRF cookie");
    let marker = "name=\"csrf\" value=\"";
    let start = page.text.find(marker).expect("a CSRF field in the form") + marker.len();
    let token = page.text[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string();
    (token, cookie)
}

/// Post the sign-in form (with a fresh CSRF token) and return the answer.
pub fn attempt(base: &str, tenant: &str, email: &str, password: &str, agent: bool) -> Reply {
    let (csrf, cookie) = login_form(base);
    let role = if agent { "agent" } else { "portal" };
    send(
        base,
        "POST",
        "/login",
        &[cookie],
        &[],
        Some(&[
            ("csrf", csrf.as_str()),
            ("tenant", tenant),
            ("email", email),
            ("password", password),
            ("role", role),
        ]),
    )
}

/// Sign in; the session cookie (`paydesk_session=…`). Panics unless the server signs the person in.
pub fn session_cookie(
    base: &str,
    tenant: &str,
    email: &str,
    password: &str,
    agent: bool,
) -> String {
    let reply = attempt(base, tenant, email, password, agent);
    assert_eq!(reply.status, 303, "signing in as {email}: {}", reply.text);
    reply.cookie("paydesk_session").expect("the session cookie")
}
