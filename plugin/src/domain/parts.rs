//! Part payments: how much of an invoice's amount due one charge takes. An agent may take less than
//! what is due; anyone else pays all of it; nobody pays more than is due or nothing at all. The
//! invoice keeps awaiting payment with the rest. Pure.

/// Why a requested part can't be charged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartRefused {
    #[error("the amount to pay must be more than zero")]
    NotPositive,
    #[error("the amount to pay ({asked}) is more than the {due} due")]
    MoreThanDue { asked: i64, due: i64 },
    #[error("only an agent may take part of an invoice's amount due; pay all {due} of it")]
    PartNotAllowed { due: i64 },
}

/// The amount (without fee) one charge of an invoice takes: `requested`, or all of `due` when none
/// is asked for. `may_pay_part`: the payer is an agent.
pub fn part_to_pay(
    due: i64,
    requested: Option<i64>,
    may_pay_part: bool,
) -> Result<i64, PartRefused> {
    let Some(asked) = requested else {
        return Ok(due);
    };
    if asked <= 0 {
        return Err(PartRefused::NotPositive);
    }
    if asked > due {
        return Err(PartRefused::MoreThanDue { asked, due });
    }
    if asked < due && !may_pay_part {
        return Err(PartRefused::PartNotAllowed { due });
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_asked_pays_all_that_is_due() {
        assert_eq!(part_to_pay(10_000, None, false), Ok(10_000));
        assert_eq!(part_to_pay(10_000, None, true), Ok(10_000));
    }

    #[test]
    fn an_agent_may_take_part_of_the_amount_due_and_anyone_all_of_it() {
        assert_eq!(part_to_pay(10_000, Some(2_500), true), Ok(2_500));
        assert_eq!(part_to_pay(10_000, Some(10_000), false), Ok(10_000));
        assert_eq!(
            part_to_pay(10_000, Some(2_500), false),
            Err(PartRefused::PartNotAllowed { due: 10_000 })
        );
    }

    #[test]
    fn no_one_pays_more_than_is_due_or_nothing() {
        assert_eq!(
            part_to_pay(10_000, Some(10_001), true),
            Err(PartRefused::MoreThanDue {
                asked: 10_001,
                due: 10_000
            })
        );
        assert_eq!(
            part_to_pay(10_000, Some(0), true),
            Err(PartRefused::NotPositive)
        );
        assert_eq!(
            part_to_pay(10_000, Some(-5), true),
            Err(PartRefused::NotPositive)
        );
        assert_eq!(
            part_to_pay(10_000, Some(i64::MAX), true),
            Err(PartRefused::MoreThanDue {
                asked: i64::MAX,
                due: 10_000
            })
        );
    }
}
