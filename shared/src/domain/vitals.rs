//! Vital signs recorded at completion, each checked against a plausible adult/child range so that a
//! typo (a temperature of 370) is refused rather than stored.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vitals {
    /// Systolic/diastolic in mmHg, e.g. "120/80".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blood_pressure: Option<String>,
    /// Beats per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heart_rate: Option<u16>,
    /// Degrees Celsius.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Kilograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Centimetres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
    /// Breaths per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respiratory_rate: Option<u16>,
    /// Percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oxygen_saturation: Option<u16>,
}

fn blood_pressure_ok(bp: &str) -> bool {
    let Some((sys, dia)) = bp.split_once('/') else {
        return false;
    };
    let digits = |s: &str| (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(sys) || !digits(dia) {
        return false;
    }
    let (sys, dia): (u16, u16) = (sys.parse().unwrap_or(0), dia.parse().unwrap_or(0));
    (50..=260).contains(&sys) && (20..=160).contains(&dia) && sys > dia
}

impl Vitals {
    /// `(field, message)` for every implausible value.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = vec![];
        let mut check = |ok: bool, field, message| {
            if !ok {
                out.push((field, message));
            }
        };
        let within = |v: Option<f64>, lo: f64, hi: f64| {
            v.is_none_or(|v| v.is_finite() && (lo..=hi).contains(&v))
        };
        check(
            self.blood_pressure.as_deref().is_none_or(blood_pressure_ok),
            "vitals.bloodPressure",
            "must be systolic/diastolic mmHg such as 120/80 (systolic 50-260 above diastolic 20-160)",
        );
        check(
            self.heart_rate.is_none_or(|v| (20..=250).contains(&v)),
            "vitals.heartRate",
            "must be 20 to 250 beats per minute",
        );
        check(
            within(self.temperature, 30.0, 45.0),
            "vitals.temperature",
            "must be 30 to 45 degrees Celsius",
        );
        check(
            within(self.weight, 0.3, 500.0),
            "vitals.weight",
            "must be 0.3 to 500 kg",
        );
        check(
            within(self.height, 20.0, 280.0),
            "vitals.height",
            "must be 20 to 280 cm",
        );
        check(
            self.respiratory_rate.is_none_or(|v| (4..=80).contains(&v)),
            "vitals.respiratoryRate",
            "must be 4 to 80 breaths per minute",
        );
        check(
            self.oxygen_saturation
                .is_none_or(|v| (50..=100).contains(&v)),
            "vitals.oxygenSaturation",
            "must be 50 to 100 percent",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_vitals_pass_and_typos_are_named() {
        let ok = Vitals {
            blood_pressure: Some("120/80".into()),
            heart_rate: Some(72),
            temperature: Some(36.8),
            weight: Some(70.5),
            height: Some(175.0),
            respiratory_rate: Some(16),
            oxygen_saturation: Some(98),
        };
        assert!(ok.problems().is_empty());
        for bp in ["80/120", "120-80", "1200/80", "120/", "abc/def", "300/80"] {
            let v = Vitals {
                blood_pressure: Some(bp.into()),
                ..Default::default()
            };
            assert_eq!(
                v.problems(),
                vec![("vitals.bloodPressure", v.problems()[0].1)],
                "{bp}"
            );
        }
        let typo = Vitals {
            temperature: Some(370.0),
            heart_rate: Some(7),
            weight: Some(f64::NAN),
            ..Default::default()
        };
        let fields: Vec<_> = typo.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["vitals.heartRate", "vitals.temperature", "vitals.weight"]
        );
    }
}
