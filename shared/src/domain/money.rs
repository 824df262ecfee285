//! Amounts of money as the service takes them: from 0 to a maximum, in whole cents.

/// Whether `f` is an amount from 0 to `max` in whole cents. A float that rounds to whole cents but is
/// not one (1.26e-190: found by schemathesis) is refused: DynamoDB stores numbers from 1e-130 on, and
/// refuses a smaller one with a ValidationException
/// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
pub fn is_amount(f: f64, max: f64) -> bool {
    let cents = f * 100.0;
    f.is_finite()
        && (0.0..=max).contains(&f)
        && (cents - cents.round()).abs() < 1e-6
        && (f == 0.0 || f >= 0.01)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_are_whole_cents_from_zero_to_the_maximum() {
        for ok in [0.0, 0.01, 45.0, 45.5, 19.99, 100_000.0] {
            assert!(is_amount(ok, 100_000.0), "{ok}");
        }
        for bad in [
            -0.01,
            0.001,
            1.26e-190,
            f64::MIN_POSITIVE,
            100_000.01,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert!(!is_amount(bad, 100_000.0), "{bad}");
        }
    }

    proptest! {
        /// Whatever is taken, DynamoDB can store: 0, or between 1e-130 and 9.99e125.
        #[test]
        fn every_amount_taken_is_a_number_dynamodb_stores(f in any::<f64>()) {
            if is_amount(f, 100_000.0) {
                prop_assert!(f == 0.0 || (1e-130..9.99e125).contains(&f.abs()));
            }
        }
    }
}
