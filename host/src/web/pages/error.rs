//! A page that could not be shown: a status, a heading and a message for people, rendered with the
//! error template; and how the app's failures, role refusals and lost workers become one.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::app::CallError;
use crate::app::new_card::NewCardError;
use crate::db::DbError;
use crate::web::error::{ApiError, NOTHING_OF_YOURS};
use crate::web::roles::Refused;
use crate::web::state::WorkerLost;

/// A page that could not be shown.
#[derive(Debug)]
pub struct PageError {
    pub(super) status: StatusCode,
    heading: String,
    pub(super) message: String,
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

impl From<CallError> for PageError {
    fn from(e: CallError) -> Self {
        let api = ApiError::from(e);
        if api.body.error.message == NOTHING_OF_YOURS {
            // One answer for "not there" and "not yours".
            return PageError::not_found();
        }
        PageError::new(api.status, "That did not work", api.body.error.message)
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

impl From<Refused> for PageError {
    fn from(r: Refused) -> Self {
        PageError::forbidden(match r {
            Refused::NotAnAgent => "This page is for agents.",
            Refused::NotAnAdmin => "Only administrators can change the Stripe integration.",
            Refused::NotAPortalUser => "This is the customer portal.",
            Refused::NoInvoiceAccess => {
                "Your account has no access to invoices. Ask your administrator."
            }
        })
    }
}

impl From<WorkerLost> for PageError {
    fn from(_: WorkerLost) -> Self {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Try again.",
        )
    }
}
