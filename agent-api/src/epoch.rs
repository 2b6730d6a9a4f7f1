//! Leadership terms. Every request a manager sends to an agent carries the epoch of the
//! leadership term it knows; an agent remembers the largest it has seen and refuses a command
//! (any request that changes something) with an older one, so a manager that has lost the lead
//! without knowing it yet (paused, cut off from the database) cannot undo the new leader's work.

/// The request header; its value is the epoch as a decimal number.
pub const HEADER: &str = "standby-epoch";

/// The epoch a request carries: `None` without the header, `Err` when it is not a number.
pub fn parse(value: Option<&str>) -> Option<Result<i64, String>> {
    let value = value?.trim();
    Some(value.parse::<i64>().ok().filter(|epoch| *epoch >= 0).ok_or_else(|| {
        format!("the {HEADER} header must be a whole number of at least 0, not {value:?}")
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_epoch_is_a_whole_number() {
        assert_eq!(super::parse(None), None);
        assert_eq!(super::parse(Some(" 7 ")), Some(Ok(7)));
        assert!(matches!(super::parse(Some("-1")), Some(Err(_))));
        assert!(matches!(super::parse(Some("seven")), Some(Err(_))));
    }
}
