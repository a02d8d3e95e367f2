//! How a page answers: a rendered template ([`page`]), a JSON answer for the pages' script
//! ([`json_answer`]), and the end of every form post ([`finish`]) — as a rule a redirect back with a
//! message the next page shows, kept by the server for the session while the URL carries only its
//! id ([`Flash`]).

use askama::Template;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

use super::error::PageError;
use super::session::Viewer;
use crate::app::App;
use crate::web::state::{AppState, blocking};

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

/// A page: `build` reads what it shows off the async threads, then the template is rendered.
pub async fn page<P: Template + Send + 'static>(
    state: &AppState,
    build: impl FnOnce(&App) -> Result<P, PageError> + Send + 'static,
) -> Result<Response, PageError> {
    let page = blocking(state, build).await?;
    Ok(render(page))
}

/// The answer to a call of the pages' script: `work` runs off the async threads, and what it
/// returns — or why it failed, `{"error": {"message"}}` with the failure's status — is the JSON.
pub async fn json_answer(
    state: &AppState,
    viewer: Viewer,
    work: impl FnOnce(&App, &Viewer) -> Result<serde_json::Value, PageError> + Send + 'static,
) -> Result<Response, PageError> {
    Ok(match blocking(state, move |app| work(app, &viewer)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => (e.status, Json(json!({"error": {"message": e.message}}))).into_response(),
    })
}

/// A redirect to `path` with a message the next page shows: the server keeps the text for this
/// session and the URL carries only its id (`?msg=…`). If it cannot be kept, the redirect goes
/// without it.
fn redirect_with(app: &App, viewer: &Viewer, path: &str, message: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    match app.db().save_flash(&viewer.token, message) {
        Ok(id) => Redirect::to(&format!("{path}{sep}msg={id}")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "keeping a page message");
            Redirect::to(path).into_response()
        }
    }
}

/// Where a form post goes once its work is done.
pub enum Next {
    /// Back to the page the form is on, with this message.
    Back(String),
    /// This answer instead: the page again with the form's errors, a page with a report, another
    /// site.
    Answer(Response),
}

impl From<String> for Next {
    fn from(message: String) -> Next {
        Next::Back(message)
    }
}

impl From<&str> for Next {
    fn from(message: &str) -> Next {
        Next::Back(message.to_string())
    }
}

/// The end of every form post, once the role and the CSRF token are checked: `work` runs off the
/// async threads and says where the viewer goes next — back to `back` with a message, as a rule.
/// A failure of `work` itself (`Err`) is an error page.
pub async fn finish(
    state: &AppState,
    viewer: Viewer,
    back: impl Into<String>,
    work: impl FnOnce(&App, &Viewer) -> Result<Next, PageError> + Send + 'static,
) -> Result<Response, PageError> {
    let back = back.into();
    blocking(state, move |app| {
        Ok(match work(app, &viewer)? {
            Next::Back(message) => redirect_with(app, &viewer, &back, &message),
            Next::Answer(response) => response,
        })
    })
    .await
}

/// Where an outcome leads: `done`'s words (or answer) for its value, or back saying
/// `{failed}: {why}`.
pub fn told<T, E: Into<PageError>, N: Into<Next>>(
    outcome: Result<T, E>,
    failed: &str,
    done: impl FnOnce(T) -> N,
) -> Next {
    match outcome {
        Ok(v) => done(v).into(),
        Err(e) => Next::Back(format!("{failed}: {}", e.into().message)),
    }
}

/// `?msg=` of the request: the id of a message the server kept for this session.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Flash {
    #[serde(default)]
    pub msg: String,
}

impl Flash {
    /// The message's text, if the server kept one under this id for `viewer`'s session.
    pub fn text(&self, app: &App, viewer: &Viewer) -> String {
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
