//! Money: integer minor units with their currency, and the table of currencies Stripe accepts with
//! the exponent Stripe counts them in. Owns parsing currency codes, arithmetic on minor units that
//! is checked (an overflow is an error value, never a wrap), and the rule Stripe puts on every
//! amount (three-decimal currencies must end in 0); the limits of one charge live in `limits`. Never
//! uses floats; does no I/O.

use std::fmt;

/// A currency Stripe accepts, with the number of minor-unit digits Stripe counts amounts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// Stripe's zero-decimal currencies: amounts are whole units (JPY 1050 = ¥1,050).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Stripe's three-decimal currencies: amounts in thousandths, which Stripe wants ending in 0.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Every other currency Stripe accepts for payments; two decimals.
const TWO_DECIMAL: &[&str] = &[
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd",
    "bdt", "bgn", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf", "chf",
    "cny", "cop", "crc", "cve", "czk", "dkk", "dop", "dzd", "egp", "etb", "eur", "fjd", "fkp",
    "gbp", "gel", "gip", "gmd", "gtq", "gyd", "hkd", "hnl", "htg", "huf", "idr", "ils", "inr",
    "isk", "jmd", "kes", "kgs", "khr", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad",
    "mdl", "mkd", "mmk", "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn",
    "nio", "nok", "npr", "nzd", "pab", "pen", "pgk", "php", "pkr", "pln", "qar", "ron", "rsd",
    "rub", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb",
    "tjs", "top", "try", "ttd", "twd", "tzs", "uah", "uyu", "uzs", "wst", "xcd", "yer", "zar",
    "zmw",
];

/// Why a currency code or amount is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "`{0}` is not a currency Stripe accepts (use a lower-case ISO 4217 code such as usd, eur, jpy)"
    )]
    UnknownCurrency(String),
    #[error("{currency} amounts must be a multiple of 10 minor units for Stripe (got {amount})")]
    NotStripeRepresentable { currency: String, amount: i64 },
    #[error("amount is too large to compute with")]
    Overflow,
    #[error("`{text}` is not an amount of {currency} (write it like {example})")]
    NotAnAmount {
        text: String,
        currency: String,
        example: String,
    },
}

impl Currency {
    /// Parse a currency code; case-insensitive, stored lower-case as Stripe writes it.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let lower = code.trim().to_ascii_lowercase();
        let find = |table: &'static [&'static str], exponent| {
            table
                .iter()
                .find(|c| **c == lower)
                .map(|c| Currency { code: c, exponent })
        };
        find(ZERO_DECIMAL, 0)
            .or_else(|| find(TWO_DECIMAL, 2))
            .or_else(|| find(THREE_DECIMAL, 3))
            .ok_or(MoneyError::UnknownCurrency(code.to_string()))
    }

    /// Every currency Stripe accepts: lower-case ISO 4217 codes.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        ZERO_DECIMAL
            .iter()
            .chain(TWO_DECIMAL)
            .chain(THREE_DECIMAL)
            .copied()
    }

    /// Lower-case ISO 4217 code.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point in Stripe's minor unit.
    pub fn exponent(self) -> u8 {
        self.exponent
    }

    /// The step every Stripe amount in this currency must be a multiple of (10 for three-decimal currencies).
    pub fn stripe_step(self) -> i64 {
        if self.exponent == 3 { 10 } else { 1 }
    }

    /// Check that Stripe can charge this amount as it is.
    pub fn check_chargeable(self, amount: MinorUnits) -> Result<(), MoneyError> {
        if amount.0 % self.stripe_step() == 0 {
            Ok(())
        } else {
            Err(MoneyError::NotStripeRepresentable {
                currency: self.code.to_ascii_uppercase(),
                amount: amount.0,
            })
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code.to_ascii_uppercase())
    }
}

/// A count of a currency's minor unit. Carries no currency itself: see [`Money`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MinorUnits(pub i64);

impl MinorUnits {
    pub fn checked_add(self, other: MinorUnits) -> Result<MinorUnits, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(MinorUnits)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: MinorUnits) -> Result<MinorUnits, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(MinorUnits)
            .ok_or(MoneyError::Overflow)
    }

    /// The exact sum of `amounts`, or [`MoneyError::Overflow`] when a running sum leaves i64.
    pub fn checked_sum(
        amounts: impl IntoIterator<Item = MinorUnits>,
    ) -> Result<MinorUnits, MoneyError> {
        amounts
            .into_iter()
            .try_fold(MinorUnits(0), MinorUnits::checked_add)
    }
}

/// An amount with its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub amount: MinorUnits,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Money {
        Money {
            amount: MinorUnits(amount),
            currency,
        }
    }
}

impl Currency {
    /// An amount as people write it (`50`, `50.5`, `1,050.00`; digits with at most this currency's
    /// decimals, optional thousands commas), in minor units. Exact: no floats.
    pub fn parse_amount(self, text: &str) -> Result<MinorUnits, MoneyError> {
        let refused = || MoneyError::NotAnAmount {
            text: text.trim().chars().take(40).collect(),
            currency: self.to_string(),
            example: Money::new(1050 * 10i64.pow(u32::from(self.exponent)), self)
                .to_string()
                .split_once(' ')
                .map(|(_, a)| a.to_string())
                .unwrap_or_default(),
        };
        let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
        let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > usize::from(self.exponent)
            || whole.len() > 15
        {
            return Err(refused());
        }
        let exp = u32::from(self.exponent);
        let whole: i64 = whole.parse().map_err(|_| refused())?;
        let fraction_value: i64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse::<i64>().map_err(|_| refused())? * 10i64.pow(exp - fraction.len() as u32)
        };
        whole
            .checked_mul(10i64.pow(exp))
            .and_then(|w| w.checked_add(fraction_value))
            .map(MinorUnits)
            .ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Money {
    /// `USD 10.50`, `JPY 1050`, `KWD 1.050`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent);
        let value = self.amount.0;
        if exp == 0 {
            return write!(f, "{} {}", self.currency, value);
        }
        let scale = 10u64.pow(exp);
        let abs = value.unsigned_abs();
        let sign = if value < 0 { "-" } else { "" };
        write!(
            f,
            "{} {}{}.{:0width$}",
            self.currency,
            sign,
            abs / scale,
            abs % scale,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_people_write_them_are_exact_minor_units() {
        let usd = Currency::parse("usd").unwrap();
        let jpy = Currency::parse("jpy").unwrap();
        let kwd = Currency::parse("kwd").unwrap();
        assert_eq!(usd.parse_amount("50").unwrap(), MinorUnits(5000));
        assert_eq!(usd.parse_amount(" 50.5 ").unwrap(), MinorUnits(5050));
        assert_eq!(usd.parse_amount("1,050.07").unwrap(), MinorUnits(105007));
        assert_eq!(jpy.parse_amount("1050").unwrap(), MinorUnits(1050));
        assert_eq!(kwd.parse_amount("1.25").unwrap(), MinorUnits(1250));
        for bad in ["", "abc", "50.123", "-5", "1e3", ".5", "5.5.5", "0x10"] {
            assert!(
                matches!(usd.parse_amount(bad), Err(MoneyError::NotAnAmount { .. })),
                "{bad}"
            );
        }
        assert!(jpy.parse_amount("10.5").is_err());
        let e = usd.parse_amount("12.345").unwrap_err().to_string();
        assert!(e.contains("USD") && e.contains("1050.00"), "{e}");
    }

    #[test]
    fn currencies_have_stripes_exponents() {
        assert_eq!(Currency::parse("USD").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("jpy").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("kwd").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("usd").unwrap().code(), "usd");
    }

    #[test]
    fn unknown_currency_is_refused_with_its_code() {
        let err = Currency::parse("xyz").unwrap_err();
        assert!(err.to_string().contains("`xyz`"));
    }

    #[test]
    fn three_decimal_amounts_must_end_in_zero() {
        let kwd = Currency::parse("kwd").unwrap();
        assert!(kwd.check_chargeable(MinorUnits(1230)).is_ok());
        assert!(kwd.check_chargeable(MinorUnits(1234)).is_err());
        let usd = Currency::parse("usd").unwrap();
        assert!(usd.check_chargeable(MinorUnits(1234)).is_ok());
    }

    #[test]
    fn sums_are_exact_or_an_overflow_error() {
        let sum = |v: &[i64]| MinorUnits::checked_sum(v.iter().copied().map(MinorUnits));
        assert_eq!(sum(&[]), Ok(MinorUnits(0)));
        assert_eq!(sum(&[i64::MAX, -1, 1]), Ok(MinorUnits(i64::MAX)));
        assert_eq!(sum(&[i64::MAX, 1, -1]), Err(MoneyError::Overflow));
        assert_eq!(sum(&[i64::MIN, -1]), Err(MoneyError::Overflow));
        assert_eq!(
            MinorUnits(i64::MIN).checked_sub(MinorUnits(1)),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn money_displays_in_major_units() {
        let m = |a, c| Money::new(a, Currency::parse(c).unwrap()).to_string();
        assert_eq!(m(1050, "usd"), "USD 10.50");
        assert_eq!(m(1050, "jpy"), "JPY 1050");
        assert_eq!(m(1050, "kwd"), "KWD 1.050");
        assert_eq!(m(-5, "usd"), "USD -0.05");
    }
}
