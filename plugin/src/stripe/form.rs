//! Stripe's form encoding, as ordered key/value pairs in bracket notation (`metadata[helpdesk_id]`,
//! `payment_method_types[]`). The host percent-encodes the pairs; this module only names them.

/// Form fields for a Stripe request, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    /// `key=value`.
    pub fn field(mut self, key: &str, value: impl Into<String>) -> Form {
        self.pairs.push((key.to_string(), value.into()));
        self
    }

    /// `key=value` when there is a value.
    pub fn opt(self, key: &str, value: Option<impl Into<String>>) -> Form {
        match value {
            Some(v) => self.field(key, v),
            None => self,
        }
    }

    /// `metadata[key]=value`.
    pub fn metadata(self, key: &str, value: impl Into<String>) -> Form {
        self.field(&format!("metadata[{key}]"), value)
    }

    /// `key[]=v` for each value.
    pub fn list<S: Into<String>>(mut self, key: &str, values: impl IntoIterator<Item = S>) -> Form {
        let name = format!("{key}[]");
        for v in values {
            self.pairs.push((name.clone(), v.into()));
        }
        self
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_bracket_names_in_order() {
        let pairs = Form::new()
            .field("name", "Acme")
            .opt("email", None::<String>)
            .metadata("helpdesk_id", "7")
            .list("expand", ["data.customer"])
            .into_pairs();
        assert_eq!(
            pairs,
            vec![
                ("name".to_string(), "Acme".to_string()),
                ("metadata[helpdesk_id]".to_string(), "7".to_string()),
                ("expand[]".to_string(), "data.customer".to_string()),
            ]
        );
    }
}
