//! Specs and time zones that must be rejected, and what the error says about them.

use backtick_cron::{CronError, CronSchedule, Field, validate_timezone};

/// (spec, field the error must name, the offending text its span must cover)
#[rustfmt::skip]
const INVALID_FIELDS: &[(&str, Field, &str)] = &[
    // out of range
    ("60 * * * * *",        Field::Second,     "60"),
    ("0 60 * * * *",        Field::Minute,     "60"),
    ("0 0 24 * * *",        Field::Hour,       "24"),
    ("0 0 0 0 * *",         Field::DayOfMonth, "0"),
    ("0 0 0 32 * *",        Field::DayOfMonth, "32"),
    ("0 0 0 * 13 *",        Field::Month,      "13"),
    ("0 0 0 * 0 *",         Field::Month,      "0"),
    ("0 0 0 * * 8",         Field::DayOfWeek,  "8"),
    ("0 0 0 * * 99999999999", Field::DayOfWeek, "99999999999"),
    // names only in their own field
    ("0 0 0 * MON *",       Field::Month,      "MON"),
    ("0 0 0 * * mon,Jan",   Field::DayOfWeek,  "Jan"),
    ("0 0 JAN * * *",       Field::Hour,       "JAN"),
    ("0 0 0 * FOO *",       Field::Month,      "FOO"),
    ("x * * * * *",         Field::Second,     "x"),
    // list, range and step syntax
    ("0 1,,2 * * * *",      Field::Minute,     "1,,2"),
    ("0 0 12, * * *",       Field::Hour,       "12,"),
    ("0 0 ,12 * * *",       Field::Hour,       ",12"),
    ("0 0 5-1 * * *",       Field::Hour,       "5-1"),
    ("0 0 0 * * FRI-MON",   Field::DayOfWeek,  "FRI-MON"),
    ("0 0 1-2-3 * * *",     Field::Hour,       "1-2-3"),
    ("0 */0 * * * *",       Field::Minute,     "*/0"),
    ("0 0 0 * * 1-7/0",     Field::DayOfWeek,  "1-7/0"),
    ("/2 * * * * *",        Field::Second,     "/2"),
    ("0 0 0 * * 1/",        Field::DayOfWeek,  "1/"),
    ("0 0 */24 * * *",      Field::Hour,       "*/24"),
    // L and W forms in the wrong field, or malformed
    ("0 0 L * * *",         Field::Hour,       "L"),
    ("0 0 0 * W *",         Field::Month,      "W"),
    ("0 0 0 L * L",         Field::DayOfWeek,  "L"),
    ("0 0 0 * * LW",        Field::DayOfWeek,  "LW"),
    ("0 0 0 * * 15W",       Field::DayOfWeek,  "15W"),
    ("0 0 0 5L * *",        Field::DayOfMonth, "5L"),
    ("0 0 0 32W * *",       Field::DayOfMonth, "32W"),
    ("0 0 0 0W * *",        Field::DayOfMonth, "0W"),
    ("0 0 0 L-5 * *",       Field::DayOfMonth, "L-5"),
    ("0 0 0 * * 8L",        Field::DayOfWeek,  "8L"),
    ("0 0 0 * * 1#6",       Field::DayOfWeek,  "1#6"),
    ("0 0 0 * * 1#0",       Field::DayOfWeek,  "1#0"),
    ("0 0 0 1#2 * *",       Field::DayOfMonth, "1#2"),
    // other dialects' syntax
    ("0 0 0 ? * *",         Field::DayOfMonth, "?"),
    ("0 0 0 * * ?",         Field::DayOfWeek,  "?"),
    ("0 H * * * *",         Field::Minute,     "H"),
    ("0 0 0 * * +1",        Field::DayOfWeek,  "+1"),
];

#[test]
fn each_invalid_field_is_named_and_pointed_at() {
    let mut failures = Vec::new();
    for &(spec, field, offending) in INVALID_FIELDS {
        match CronSchedule::parse(spec) {
            Ok(_) => failures.push(format!("{spec:?} was accepted")),
            Err(err) => {
                let message = err.to_string();
                let pointed = err.span().and_then(|span| spec.get(span));
                if err.field() != Some(field) || pointed != Some(offending) {
                    failures.push(format!("{spec:?}: expected {field} at {offending:?}, got {err:?}"));
                } else if !message.contains(&format!("invalid {field} `{offending}`")) {
                    failures.push(format!("{spec:?}: message does not name the field and text: {message}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_message_says_what_the_field_allows() {
    let err = CronSchedule::parse("0 0 0 * * 8L").expect_err("8L is not a weekday");
    let message = err.to_string();
    assert!(message.contains("8 is out of range 0-7"), "{message}");
    assert!(message.contains("0-7 or SUN-SAT"), "{message}");
}

#[test]
fn a_reversed_weekday_range_suggests_the_weekend_spelling() {
    let err = CronSchedule::parse("0 0 0 * * 6-0").expect_err("reversed");
    assert!(err.to_string().contains("`6-7` is the weekend"), "{err}");
}

#[test]
fn five_fields_are_rejected_with_a_hint_to_add_seconds() {
    let err = CronSchedule::parse("*/5 * * * *").expect_err("no seconds field");
    assert!(matches!(err, CronError::FieldCount { found: 5, .. }), "{err:?}");
    assert_eq!(err.span(), Some(0..11));
    assert!(err.to_string().contains("seconds field"), "{err}");
}

#[test]
fn a_year_field_is_rejected_and_pointed_at() {
    let spec = "0 0 0 1 1 * 2030";
    let err = CronSchedule::parse(spec).expect_err("no year field");
    assert!(matches!(err, CronError::FieldCount { found: 7, .. }), "{err:?}");
    assert_eq!(err.span().and_then(|s| spec.get(s)), Some("2030"));
    assert!(err.to_string().contains("year field is not supported"), "{err}");
}

#[test]
fn an_empty_spec_is_rejected() {
    let err = CronSchedule::parse("   ").expect_err("empty");
    assert!(matches!(err, CronError::FieldCount { found: 0, .. }), "{err:?}");
}

#[test]
fn an_unknown_macro_is_rejected_and_the_known_ones_listed() {
    let spec = " @every_minute";
    let err = CronSchedule::parse(spec).expect_err("unknown macro");
    assert!(matches!(err, CronError::UnknownMacro { .. }), "{err:?}");
    assert_eq!(err.span().and_then(|s| spec.get(s)), Some("@every_minute"));
    assert!(err.to_string().contains("@midnight"), "{err}");
}

#[test]
fn a_macro_must_stand_alone() {
    let err = CronSchedule::parse("@daily 5").expect_err("macro plus a field");
    assert!(matches!(err, CronError::FieldCount { found: 2, .. }), "{err:?}");
}

#[test]
fn an_unknown_time_zone_is_named_with_a_spelling_hint() {
    let err = CronSchedule::parse_in("@daily", "america/new_york").expect_err("case matters");
    assert_eq!(err.span(), None);
    let message = err.to_string();
    assert!(message.contains("`america/new_york`"), "{message}");
    assert!(message.contains("did you mean `America/New_York`?"), "{message}");

    let err = validate_timezone("New York").expect_err("not a zone name");
    assert!(err.to_string().contains("did you mean `America/New_York`?"), "{err}");

    let err = validate_timezone("Mars/Olympus_Mons").expect_err("no such zone");
    assert!(err.to_string().contains("such as `UTC`, `Europe/London`"), "{err}");
}

#[test]
fn the_time_zone_is_checked_before_the_spec() {
    let err = CronSchedule::parse_in("0 0 25 * * *", "Nowhere/Land").expect_err("both bad");
    assert!(matches!(err, CronError::UnknownTimeZone { .. }), "{err:?}");
}
