//! Who may see an invoice (REQUIREMENTS M13): a portal user sees the invoices their "Invoice Access
//! Level" shows — none, those addressed to them, or every invoice of their customer. One rule for
//! the host's API, pages and documents and for the plugin's payments. Pure.

use super::vocabulary::InvoiceAccessLevel;

/// A portal user, as far as seeing invoices goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub user_id: i64,
    pub customer_id: i64,
    pub level: InvoiceAccessLevel,
}

/// Whose an invoice is, as far as who sees it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceOwner {
    pub customer_id: i64,
    /// The portal user it is addressed to, if any.
    pub user_id: Option<i64>,
}

/// May portal user `reader` see the invoice `invoice`? Never another customer's.
pub fn user_sees_invoice(reader: Reader, invoice: InvoiceOwner) -> bool {
    reader.customer_id == invoice.customer_id
        && match reader.level {
            InvoiceAccessLevel::None => false,
            InvoiceAccessLevel::AddressedToUser => invoice.user_id == Some(reader.user_id),
            InvoiceAccessLevel::Customer => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(level: InvoiceAccessLevel) -> Reader {
        Reader {
            user_id: 7,
            customer_id: 1,
            level,
        }
    }

    #[test]
    fn each_level_shows_what_it_says() {
        let own = InvoiceOwner {
            customer_id: 1,
            user_id: Some(7),
        };
        let colleague = InvoiceOwner {
            customer_id: 1,
            user_id: Some(8),
        };
        let unaddressed = InvoiceOwner {
            customer_id: 1,
            user_id: None,
        };
        for invoice in [own, colleague, unaddressed] {
            assert!(!user_sees_invoice(
                reader(InvoiceAccessLevel::None),
                invoice
            ));
            assert!(user_sees_invoice(
                reader(InvoiceAccessLevel::Customer),
                invoice
            ));
        }
        let level = InvoiceAccessLevel::AddressedToUser;
        assert!(user_sees_invoice(reader(level), own));
        assert!(!user_sees_invoice(reader(level), colleague));
        assert!(!user_sees_invoice(reader(level), unaddressed));
    }

    #[test]
    fn never_another_customers_invoice() {
        let theirs = InvoiceOwner {
            customer_id: 2,
            user_id: Some(7),
        };
        for level in InvoiceAccessLevel::ALL {
            assert!(!user_sees_invoice(reader(level), theirs));
        }
    }
}
