//! Which email addresses paydesk accepts: one rule wherever an address comes in — a customer's
//! accounts and accounts CC addresses, a portal user's address, the notification setting
//! (`stripenotificationemail`) — and again before a message is queued, so an address that was
//! accepted when it was saved is one the outbox can send to. The syntax is the `email_address`
//! crate's (RFC 5321/5322), with a domain that has a top-level part (`billing@hooli` is refused),
//! no display name and no domain literal.

use ::email_address::{EmailAddress, Error, Options};

/// Most characters in an address (RFC 5321's path limit less the brackets).
const MAX_LEN: usize = 254;

fn options() -> Options {
    Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal()
}

/// Why `address` is not one paydesk sends to, for humans (the address is quoted).
pub fn check(address: &str) -> Result<(), String> {
    if address.len() > MAX_LEN {
        return Err(format!(
            "`{}…` is not an email address: at most {MAX_LEN} characters",
            address.chars().take(40).collect::<String>()
        ));
    }
    EmailAddress::parse_with_options(address, options())
        .map(|_| ())
        .map_err(|e| {
            let why = match e {
                Error::DomainTooFew => {
                    "its domain needs a top-level part (e.g. `example.com`)".to_string()
                }
                other => other.to_string().trim_end_matches('.').to_ascii_lowercase(),
            };
            format!("`{address}` is not an email address: {why}")
        })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn ordinary_addresses_are_accepted() {
        for a in [
            "ap@globex.test",
            "first.last+tag@mail.example.co.uk",
            "x@sub-domain.example",
        ] {
            assert_eq!(check(a), Ok(()), "{a}");
        }
    }

    #[test]
    fn an_address_without_a_dotted_domain_or_with_junk_is_refused_and_named() {
        for a in [
            "billing@hooli",
            "no-at-sign.example.com",
            "two@@example.com",
            "space in@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "",
        ] {
            let e = check(a).unwrap_err();
            assert!(e.starts_with(&format!("`{a}`")), "{e}");
        }
        assert!(check("billing@hooli").unwrap_err().contains("top-level"));
        assert!(check(&format!("{}@example.com", "a".repeat(300))).is_err());
    }
}
