//! "Generate mappings": pair helpdesk customers with Stripe customers whose names
//! are an exact match. A name that occurs more than once on either side is reported, never guessed;
//! a Stripe customer already mapped is not mapped twice; mapped customers are left alone. Pure.

use std::collections::{HashMap, HashSet};

/// A helpdesk customer as the generator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpdeskCustomer {
    pub id: i64,
    pub name: String,
    pub stripe_customer_id: Option<String>,
}

/// A Stripe customer as the generator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeCustomer {
    pub id: String,
    pub name: Option<String>,
}

/// Why a customer was not mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    NoMatch,
    SeveralInStripe,
    SeveralInHelpdesk,
    StripeCustomerTaken,
}

/// The generator's decision for one unmapped helpdesk customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Map {
        customer_id: i64,
        customer_name: String,
        stripe_customer_id: String,
    },
    Skip {
        customer_id: i64,
        customer_name: String,
        reason: SkipReason,
        stripe_customer_ids: Vec<String>,
    },
}

/// The plan: what to map, what to skip, how many were mapped already.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub decisions: Vec<Decision>,
    pub already_mapped: u32,
}

/// Decide mappings by exact name (case and spaces significant, as the guide says "exact match").
pub fn plan(helpdesk: &[HelpdeskCustomer], stripe: &[StripeCustomer]) -> Plan {
    let mut stripe_by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for s in stripe {
        if let Some(name) = s.name.as_deref().filter(|n| !n.is_empty()) {
            stripe_by_name.entry(name).or_default().push(&s.id);
        }
    }
    let mut helpdesk_names: HashMap<&str, u32> = HashMap::new();
    for h in helpdesk {
        *helpdesk_names.entry(h.name.as_str()).or_default() += 1;
    }
    let taken: HashSet<&str> = helpdesk
        .iter()
        .filter_map(|h| h.stripe_customer_id.as_deref())
        .collect();

    let mut plan = Plan::default();
    for h in helpdesk {
        if h.stripe_customer_id.is_some() {
            plan.already_mapped += 1;
            continue;
        }
        let skip = |reason, ids: Vec<String>| Decision::Skip {
            customer_id: h.id,
            customer_name: h.name.clone(),
            reason,
            stripe_customer_ids: ids,
        };
        let matches = stripe_by_name
            .get(h.name.as_str())
            .cloned()
            .unwrap_or_default();
        let ids: Vec<String> = matches.iter().map(|s| s.to_string()).collect();
        let decision = match matches.as_slice() {
            [] => skip(SkipReason::NoMatch, ids),
            _ if helpdesk_names[h.name.as_str()] > 1 => skip(SkipReason::SeveralInHelpdesk, ids),
            [_, _, ..] => skip(SkipReason::SeveralInStripe, ids),
            [one] if taken.contains(one) => skip(SkipReason::StripeCustomerTaken, ids),
            [one] => Decision::Map {
                customer_id: h.id,
                customer_name: h.name.clone(),
                stripe_customer_id: one.to_string(),
            },
        };
        plan.decisions.push(decision);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(id: i64, name: &str, stripe: Option<&str>) -> HelpdeskCustomer {
        HelpdeskCustomer {
            id,
            name: name.into(),
            stripe_customer_id: stripe.map(Into::into),
        }
    }

    fn s(id: &str, name: &str) -> StripeCustomer {
        StripeCustomer {
            id: id.into(),
            name: Some(name.into()),
        }
    }

    fn reason_of(p: &Plan, id: i64) -> Option<SkipReason> {
        p.decisions.iter().find_map(|d| match d {
            Decision::Skip {
                customer_id,
                reason,
                ..
            } if *customer_id == id => Some(*reason),
            _ => None,
        })
    }

    #[test]
    fn exact_unique_names_are_mapped_and_the_rest_reported() {
        let helpdesk = [
            h(1, "Acme", None),
            h(2, "globex", None),
            h(3, "Twice", None),
            h(4, "Dup", None),
            h(5, "Dup", None),
            h(6, "Mapped", Some("cus_m")),
            h(7, "Taken", None),
        ];
        let stripe = [
            s("cus_a", "Acme"),
            s("cus_g", "Globex"),
            s("cus_t1", "Twice"),
            s("cus_t2", "Twice"),
            s("cus_d", "Dup"),
            s("cus_m", "Taken"),
        ];
        let p = plan(&helpdesk, &stripe);
        assert!(p.decisions.contains(&Decision::Map {
            customer_id: 1,
            customer_name: "Acme".into(),
            stripe_customer_id: "cus_a".into()
        }));
        assert_eq!(
            reason_of(&p, 2),
            Some(SkipReason::NoMatch),
            "case differs: not an exact match"
        );
        assert_eq!(reason_of(&p, 3), Some(SkipReason::SeveralInStripe));
        assert_eq!(reason_of(&p, 4), Some(SkipReason::SeveralInHelpdesk));
        assert_eq!(reason_of(&p, 7), Some(SkipReason::StripeCustomerTaken));
        assert_eq!(p.already_mapped, 1);
    }
}
