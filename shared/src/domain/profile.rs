//! A provider's profile: what a patient chooses a provider by (issue 20, DESIGN.md section 15). Never
//! PHI: a display name, specialties, the languages spoken, the regions a provider may see patients
//! in by video, locations, the appointment types offered, whether new patients are taken.
//!
//! What `PUT /providers/{id}` takes is checked whole ([`Profile::problems`]) and stored canonical
//! ([`Profile::canonical`]): language tags in BCP 47's case conventions (`es`, `es-MX`,
//! `zh-Hant-TW`; RFC 5646 section 2.1.1), regions in ISO 3166-2's upper case (`US-CA`), every list
//! without duplicates and sorted, so two equal profiles are stored alike and the directory's keys are
//! deterministic.

use serde::{Deserialize, Serialize};

/// The bounds [`Profile::problems`] checks.
pub const MAX_DISPLAY_NAME: usize = 200;
pub const MAX_SPECIALTIES: usize = 20;
pub const MAX_CODE: usize = 64;
pub const MAX_LANGUAGES: usize = 20;
pub const MAX_REGIONS: usize = 100;
pub const MAX_LOCATIONS: usize = 50;
pub const MAX_TYPES: usize = 100;

/// A coded specialty: a code of a code system (NUCC's provider taxonomy, SNOMED CT's practice
/// settings...) and its display text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Specialty {
    /// Letters, digits, `.`, `-` and `_`, 1 to 64 of them (`207Q00000X`, `394814009`).
    pub code: String,
    /// What a patient reads (1 to 200 characters).
    pub display: String,
}

/// The profile as `PUT` takes it and `GET` answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Profile {
    /// The name patients see (1 to 200 characters, no control characters).
    pub display_name: String,
    #[serde(default)]
    pub specialties: Vec<Specialty>,
    /// BCP 47 language tags (`en`, `es-MX`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// ISO 3166-2 subdivisions where the provider may see patients by video (`US-CA`).
    #[serde(default)]
    pub telehealth_regions: Vec<String>,
    #[serde(default)]
    pub location_ids: Vec<uuid::Uuid>,
    /// The appointment types offered.
    #[serde(default)]
    pub appointment_type_ids: Vec<uuid::Uuid>,
    #[serde(default = "yes")]
    pub accepting_new_patients: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// `tag` in BCP 47's canonical case if it is a well-formed language tag of the forms a directory
/// needs: a 2 or 3 letter language, then optionally a 4 letter script, then optionally a 2 letter or
/// 3 digit region (RFC 5646 section 2.1; extensions, variants and private use are refused).
pub fn language_tag(tag: &str) -> Option<String> {
    let mut parts = tag.split('-');
    let language = parts.next()?;
    if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = language.to_ascii_lowercase();
    let mut rest: Vec<&str> = parts.collect();
    if let Some(script) = rest.first().copied() {
        if script.len() == 4 && script.bytes().all(|b| b.is_ascii_alphabetic()) {
            out.push('-');
            out.push_str(&script[..1].to_ascii_uppercase());
            out.push_str(&script[1..].to_ascii_lowercase());
            rest.remove(0);
        }
    }
    match rest.as_slice() {
        [] => Some(out),
        [region]
            if (region.len() == 2 && region.bytes().all(|b| b.is_ascii_alphabetic()))
                || (region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit())) =>
        {
            out.push('-');
            out.push_str(&region.to_ascii_uppercase());
            Some(out)
        }
        _ => None,
    }
}

/// `code` in ISO 3166-2's canonical upper case if it has the form of a subdivision code: a 2 letter
/// country, `-`, and 1 to 3 letters or digits (`US-CA`, `FR-75`, `GB-ENG`).
pub fn region_code(code: &str) -> Option<String> {
    let (country, subdivision) = code.split_once('-')?;
    let ok = country.len() == 2
        && country.bytes().all(|b| b.is_ascii_alphabetic())
        && (1..=3).contains(&subdivision.len())
        && subdivision.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| code.to_ascii_uppercase())
}

/// Whether `code` has the form of a specialty code: 1 to 64 letters, digits, `.`, `-` or `_`.
pub fn is_code(code: &str) -> bool {
    (1..=MAX_CODE).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn is_text(text: &str, max: usize) -> bool {
    let chars = text.chars().count();
    (1..=max).contains(&chars) && !text.chars().any(char::is_control) && !text.trim().is_empty()
}

impl Profile {
    /// Each field that is wrong, as `(field, message)`, without quoting what the client sent.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        if !is_text(&self.display_name, MAX_DISPLAY_NAME) {
            out.push((
                "displayName",
                format!(
                    "must be 1 to {MAX_DISPLAY_NAME} characters, not blank, no control characters"
                ),
            ));
        }
        if self.specialties.len() > MAX_SPECIALTIES {
            out.push(("specialties", format!("at most {MAX_SPECIALTIES}")));
        }
        if self
            .specialties
            .iter()
            .any(|s| !is_code(&s.code) || !is_text(&s.display, MAX_DISPLAY_NAME))
        {
            out.push((
                "specialties",
                format!(
                    "each needs a code (1 to {MAX_CODE} letters, digits, '.', '-' or '_') and a display of 1 to {MAX_DISPLAY_NAME} characters"
                ),
            ));
        }
        if self.languages.len() > MAX_LANGUAGES {
            out.push(("languages", format!("at most {MAX_LANGUAGES}")));
        }
        if self.languages.iter().any(|l| language_tag(l).is_none()) {
            out.push((
                "languages",
                "each must be a BCP 47 language tag: a language, optionally a script and a region (en, es-MX, zh-Hant-TW)".into(),
            ));
        }
        if self.telehealth_regions.len() > MAX_REGIONS {
            out.push(("telehealthRegions", format!("at most {MAX_REGIONS}")));
        }
        if self
            .telehealth_regions
            .iter()
            .any(|r| region_code(r).is_none())
        {
            out.push((
                "telehealthRegions",
                "each must be an ISO 3166-2 subdivision code (US-CA)".into(),
            ));
        }
        if self.location_ids.len() > MAX_LOCATIONS {
            out.push(("locationIds", format!("at most {MAX_LOCATIONS}")));
        }
        if self.appointment_type_ids.len() > MAX_TYPES {
            out.push(("appointmentTypeIds", format!("at most {MAX_TYPES}")));
        }
        out
    }

    /// The profile as stored: tags and codes in their canonical case, names trimmed, every list sorted
    /// and without duplicates (a specialty's code decides). Call it on a profile without problems.
    pub fn canonical(mut self) -> Profile {
        fn unique<T: Ord>(mut v: Vec<T>) -> Vec<T> {
            v.sort();
            v.dedup();
            v
        }
        self.display_name = self.display_name.trim().to_owned();
        let mut specialties: Vec<Specialty> = self
            .specialties
            .into_iter()
            .map(|s| Specialty {
                code: s.code,
                display: s.display.trim().to_owned(),
            })
            .collect();
        specialties.sort();
        specialties.dedup_by(|a, b| a.code == b.code);
        self.specialties = specialties;
        self.languages = unique(
            self.languages
                .iter()
                .filter_map(|l| language_tag(l))
                .collect(),
        );
        self.telehealth_regions = unique(
            self.telehealth_regions
                .iter()
                .filter_map(|r| region_code(r))
                .collect(),
        );
        self.location_ids = unique(self.location_ids);
        self.appointment_type_ids = unique(self.appointment_type_ids);
        self
    }

    /// Whether a patient asking for `language` (a BCP 47 tag) is served: the same language, any
    /// region (`es` serves `es-MX` and the other way round; RFC 4647's basic filtering by the primary
    /// subtag).
    pub fn speaks(&self, language: &str) -> bool {
        let wanted = primary_language(language);
        self.languages.iter().any(|l| primary_language(l) == wanted)
    }
}

/// One way the directory is searched, and one value of it: the provider is listed under every facet
/// value of their profile (`All` for the unfiltered directory), so a directory query reads one facet
/// value's partition and filters on the rest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Facet {
    All,
    Specialty(String),
    /// A primary language subtag (`es` for `es-MX`): a patient asks for a language, not a region.
    Language(String),
    Region(String),
    Location(uuid::Uuid),
    Type(uuid::Uuid),
}

impl Facet {
    /// Its value in the directory's keys (`SPECIALTY#207Q00000X`, `LANGUAGE#es`).
    pub fn key(&self) -> String {
        match self {
            Facet::All => "ALL".to_owned(),
            Facet::Specialty(c) => format!("SPECIALTY#{c}"),
            Facet::Language(l) => format!("LANGUAGE#{l}"),
            Facet::Region(r) => format!("REGION#{r}"),
            Facet::Location(l) => format!("LOCATION#{l}"),
            Facet::Type(t) => format!("TYPE#{t}"),
        }
    }
}

/// The primary subtag of a language tag, lower case.
pub fn primary_language(tag: &str) -> String {
    tag.split('-')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

impl Profile {
    /// Every facet value the provider is listed under: none while inactive.
    pub fn facets(&self) -> std::collections::BTreeSet<Facet> {
        let mut out = std::collections::BTreeSet::new();
        if !self.active {
            return out;
        }
        out.insert(Facet::All);
        out.extend(
            self.specialties
                .iter()
                .map(|s| Facet::Specialty(s.code.clone())),
        );
        out.extend(
            self.languages
                .iter()
                .map(|l| Facet::Language(primary_language(l))),
        );
        out.extend(self.telehealth_regions.iter().cloned().map(Facet::Region));
        out.extend(self.location_ids.iter().copied().map(Facet::Location));
        out.extend(self.appointment_type_ids.iter().copied().map(Facet::Type));
        out
    }
}

/// What a change of profile does to the directory: the facet values to (re)write the provider's
/// listing under (every current one, so each listing carries the new profile), and those to remove.
pub fn relisting(before: Option<&Profile>, after: Option<&Profile>) -> (Vec<Facet>, Vec<Facet>) {
    let old = before.map(Profile::facets).unwrap_or_default();
    let new = after.map(Profile::facets).unwrap_or_default();
    (
        new.iter().cloned().collect(),
        old.difference(&new).cloned().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn profile(body: serde_json::Value) -> Profile {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn language_tags_take_their_canonical_case_and_odd_forms_are_refused() {
        for (given, canonical) in [
            ("en", "en"),
            ("ES", "es"),
            ("es-mx", "es-MX"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("sr-Latn", "sr-Latn"),
            ("es-419", "es-419"),
            ("yue", "yue"),
        ] {
            assert_eq!(language_tag(given).as_deref(), Some(canonical), "{given}");
        }
        for refused in [
            "",
            "e",
            "english",
            "en-",
            "-en",
            "en-US-x-private",
            "en-1",
            "en-USA",
            "de-CH-1901",
            "en_US",
            "é",
            "e1",
        ] {
            assert_eq!(language_tag(refused), None, "{refused}");
        }
    }

    #[test]
    fn regions_are_iso_3166_2_codes_in_upper_case() {
        assert_eq!(region_code("us-ca").as_deref(), Some("US-CA"));
        assert_eq!(region_code("FR-75").as_deref(), Some("FR-75"));
        assert_eq!(region_code("GB-ENG").as_deref(), Some("GB-ENG"));
        for refused in [
            "US", "USA-CA", "US-", "US-CALI", "U1-CA", "US CA", "-CA", "US-C-A",
        ] {
            assert_eq!(region_code(refused), None, "{refused}");
        }
    }

    #[test]
    fn a_profile_is_checked_whole_and_stored_canonical() {
        let bad = profile(json!({
            "displayName": " ",
            "specialties": [{"code": "a b", "display": "Cardiology"}],
            "languages": ["en", "klingon-tlh"],
            "telehealthRegions": ["California"],
        }));
        let fields: Vec<&str> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "displayName",
                "specialties",
                "languages",
                "telehealthRegions"
            ]
        );

        let good = profile(json!({
            "displayName": "  Dr. Ana Ruiz ",
            "specialties": [
                {"code": "207Q00000X", "display": "Family Medicine"},
                {"code": "207Q00000X", "display": "Family medicine, again"},
            ],
            "languages": ["ES-mx", "en", "es-MX"],
            "telehealthRegions": ["us-ca", "US-CA", "US-AZ"],
        }));
        assert!(good.problems().is_empty());
        let stored = good.canonical();
        assert_eq!(stored.display_name, "Dr. Ana Ruiz");
        assert_eq!(stored.specialties.len(), 1);
        assert_eq!(stored.languages, ["en", "es-MX"]);
        assert_eq!(stored.telehealth_regions, ["US-AZ", "US-CA"]);
        assert!(stored.accepting_new_patients && stored.active);
        assert!(stored.speaks("es") && stored.speaks("ES-ES") && !stored.speaks("fr"));
    }

    #[test]
    fn a_profile_is_listed_under_each_of_its_facets_and_a_change_moves_it() {
        let before = profile(json!({
            "displayName": "A",
            "specialties": [{"code": "cardio", "display": "Cardiology"}],
            "languages": ["es-MX", "es", "en"],
            "telehealthRegions": ["US-CA"],
        }))
        .canonical();
        let keys: Vec<String> = before.facets().iter().map(Facet::key).collect();
        assert_eq!(
            keys,
            [
                "ALL",
                "SPECIALTY#cardio",
                "LANGUAGE#en",
                "LANGUAGE#es",
                "REGION#US-CA"
            ]
        );
        let mut after = before.clone();
        after.telehealth_regions = vec!["US-AZ".into()];
        let (put, gone) = relisting(Some(&before), Some(&after));
        assert!(put.contains(&Facet::Region("US-AZ".into())) && put.contains(&Facet::All));
        assert_eq!(gone, [Facet::Region("US-CA".into())]);
        // Inactive: listed nowhere; a profile that goes is taken out everywhere.
        after.active = false;
        assert!(after.facets().is_empty());
        let (put, gone) = relisting(Some(&before), None);
        assert!(put.is_empty());
        assert_eq!(gone.len(), before.facets().len());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_value::<Profile>(json!({"displayName": "A", "ssn": "1"}));
        assert!(err.is_err());
    }

    proptest! {
        /// No string makes the parsers panic, and what they accept is a fixed point.
        #[test]
        fn tags_and_regions_parse_any_string(s in any::<String>(), t in "[a-zA-Z0-9-]{0,16}") {
            for input in [&s, &t] {
                if let Some(tag) = language_tag(input) {
                    prop_assert_eq!(language_tag(&tag), Some(tag.clone()));
                }
                if let Some(code) = region_code(input) {
                    prop_assert_eq!(region_code(&code), Some(code.clone()));
                }
            }
        }

        /// A canonical profile is canonical again, and still without problems.
        #[test]
        fn canonical_is_idempotent(
            name in "[A-Za-z .]{1,40}",
            languages in proptest::collection::vec("[a-zA-Z]{2,3}(-[a-zA-Z]{4})?(-[a-zA-Z]{2})?", 0..6),
            regions in proptest::collection::vec("[a-zA-Z]{2}-[a-zA-Z0-9]{1,3}", 0..6),
        ) {
            let p = Profile {
                display_name: format!("x{name}"),
                specialties: vec![],
                languages,
                telehealth_regions: regions,
                location_ids: vec![],
                appointment_type_ids: vec![],
                accepting_new_patients: true,
                active: true,
            };
            prop_assert!(p.problems().is_empty(), "{:?}", p.problems());
            let once = p.canonical();
            prop_assert_eq!(once.clone().canonical(), once.clone());
            prop_assert!(once.problems().is_empty());
        }
    }
}
