//! A posted form (`application/x-www-form-urlencoded`): its fields in order, repeated names kept,
//! read the few ways the pages read them. Its CSRF token is checked by
//! [`super::session::Viewer::form`] before anything else reads it.

/// A posted form's fields.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// The fields of a form body.
    pub fn parse(body: &[u8]) -> Form {
        Form {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` was sent (a checkbox that is on).
    pub fn on(&self, name: &str) -> bool {
        self.field(name).is_some()
    }

    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn text(&self, name: &str) -> Option<String> {
        self.field(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}
