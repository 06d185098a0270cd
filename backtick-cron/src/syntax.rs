//! The validation pass and the normaliser that sit in front of croner.
//!
//! A spec is split into fields and list elements with their byte spans, every element is checked
//! against CRON.md, and the result is written back out in the subset of croner's syntax where
//! croner agrees with the dialect (see the crate docs for each rewrite and why).

use std::ops::Range;

use crate::error::{CronError, Field};

/// A spec that passed validation, in the form croner is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Normalized {
    /// One or two six-field croner patterns; the schedule fires when any of them matches.
    pub(crate) patterns: Vec<String>,
    /// True when the hour field is `*` or a step: the spec follows real time across DST changes.
    pub(crate) hour_follows_real_time: bool,
}

const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 0 1 1 *"),
    ("@annually", "0 0 0 1 1 *"),
    ("@monthly", "0 0 0 1 * *"),
    ("@weekly", "0 0 0 * * 0"),
    ("@daily", "0 0 0 * * *"),
    ("@midnight", "0 0 0 * * *"),
    ("@hourly", "0 0 * * * *"),
];

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Checks `spec` against the dialect and rewrites it for croner.
pub(crate) fn normalize(spec: &str) -> Result<Normalized, CronError> {
    let words = split_with_spans(spec, |c| c.is_whitespace());
    let words: Vec<(&str, Range<usize>)> = words.into_iter().filter(|(w, _)| !w.is_empty()).collect();
    let fields = match words.as_slice() {
        [(word, span)] if word.starts_with('@') => expand_macro(word, span)?,
        _ if words.len() == 6 => words,
        _ => return Err(field_count_error(spec, &words)),
    };
    let mut parsed = Vec::with_capacity(6);
    for (field, (text, span)) in Field::ALL.into_iter().zip(fields) {
        parsed.push(parse_field(field, text, span)?);
    }
    Ok(assemble(parsed))
}

fn expand_macro<'a>(word: &str, span: &Range<usize>) -> Result<Vec<(&'a str, Range<usize>)>, CronError> {
    let (_, expansion) = MACROS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .ok_or_else(|| CronError::UnknownMacro {
            text: word.to_string(),
            span: span.clone(),
        })?;
    // Errors cannot come from an expansion, but every field still points at the macro.
    Ok(expansion.split(' ').map(|f| (f, span.clone())).collect())
}

fn field_count_error(spec: &str, words: &[(&str, Range<usize>)]) -> CronError {
    let span = match words {
        [] => 0..spec.len(),
        [.., last] if words.len() > 6 => words[6].1.start..last.1.end,
        [first, .., last] => first.1.start..last.1.end,
        [only] => only.1.clone(),
    };
    CronError::FieldCount {
        found: words.len(),
        span,
    }
}

/// Splits `text` at every character matching `sep`, keeping each piece's byte range.
fn split_with_spans(text: &str, sep: impl Fn(char) -> bool) -> Vec<(&str, Range<usize>)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if sep(c) {
            pieces.push((&text[start..i], start..i));
            start = i + c.len_utf8();
        }
    }
    pieces.push((&text[start..], start..text.len()));
    pieces
}

/// One validated list element. Day numbers are as written: 7 is still 7 (croner folds it to 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    /// `*` inside a list.
    Star,
    /// `*/s`.
    StarStep(u32),
    /// `a`, `a-b`, `a-b/s`, or `a/s` (with `open_end`).
    Range {
        start: u32,
        end: u32,
        step: Option<u32>,
        open_end: bool,
    },
    /// Day-of-month `L`.
    LastDay,
    /// Day-of-month `LW`.
    LastWeekday,
    /// Bare `W` in either day field: Monday-Friday.
    Weekdays,
    /// Day-of-month `nW`.
    NearestWeekday(u32),
    /// Day-of-week `nL`.
    LastOfMonth(u32),
    /// Day-of-week `n#k`.
    Nth(u32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedField {
    field: Field,
    /// The field is literally `*`: for the day fields this means "unrestricted".
    star: bool,
    elements: Vec<Element>,
}

fn parse_field(field: Field, text: &str, span: Range<usize>) -> Result<ParsedField, CronError> {
    if text == "*" {
        return Ok(ParsedField {
            field,
            star: true,
            elements: vec![Element::Star],
        });
    }
    let mut elements = Vec::new();
    for (element, local) in split_with_spans(text, |c| c == ',') {
        if element.is_empty() {
            let reason = "empty list element (look for a doubled, leading or trailing comma)";
            return Err(invalid(field, text, span, reason.to_string()));
        }
        let element_span = span.start + local.start..span.start + local.end;
        let parsed = parse_element(field, element).map_err(|reason| invalid(field, element, element_span, reason))?;
        elements.push(parsed);
    }
    Ok(ParsedField {
        field,
        star: false,
        elements,
    })
}

fn invalid(field: Field, text: &str, span: Range<usize>, reason: String) -> CronError {
    CronError::InvalidField {
        field,
        text: text.to_string(),
        reason,
        span,
    }
}

fn parse_element(field: Field, text: &str) -> Result<Element, String> {
    let upper = text.to_ascii_uppercase();
    if upper.contains('?') {
        return Err("`?` is not supported; write `*`".to_string());
    }
    if upper == "H" || upper.starts_with("H/") || upper.starts_with("H(") {
        return Err("`H` (hashed values) is not supported".to_string());
    }
    if let Some(special) = parse_special(field, &upper)? {
        return Ok(special);
    }
    parse_range(field, &upper)
}

/// The `L`, `W` and `#` forms, or `None` when `text` is none of them.
fn parse_special(field: Field, text: &str) -> Result<Option<Element>, String> {
    let element = match text {
        "L" => match field {
            Field::DayOfMonth => Element::LastDay,
            Field::DayOfWeek => {
                return Err("bare `L` is not valid in day-of-week; write `nL` (`5L` is the last Friday)".into());
            }
            _ => return Err(l_w_elsewhere()),
        },
        "LW" => match field {
            Field::DayOfMonth => Element::LastWeekday,
            _ => return Err("`LW` is only valid in day-of-month".into()),
        },
        "W" => match field {
            Field::DayOfMonth | Field::DayOfWeek => Element::Weekdays,
            _ => return Err(l_w_elsewhere()),
        },
        _ => {
            if let Some((day, nth)) = text.split_once('#') {
                if field != Field::DayOfWeek {
                    return Err("`n#k` is only valid in day-of-week".into());
                }
                let day = parse_value(field, day)?;
                let nth = parse_number(nth).filter(|k| (1..=5).contains(k));
                let nth = nth.ok_or("the k in `n#k` must be 1-5")?;
                return Ok(Some(Element::Nth(day, nth)));
            }
            if let Some(day) = text.strip_suffix('W').filter(|d| is_digits(d)) {
                if field != Field::DayOfMonth {
                    return Err(match field {
                        Field::DayOfWeek => "`nW` is only valid in day-of-month; `W` alone means Monday-Friday".into(),
                        _ => l_w_elsewhere(),
                    });
                }
                return Ok(Some(Element::NearestWeekday(parse_value(field, day)?)));
            }
            if let Some(day) = text.strip_suffix('L').filter(|d| is_digits(d) || is_name(d)) {
                if field != Field::DayOfWeek {
                    return Err(match field {
                        Field::DayOfMonth => "`nL` is only valid in day-of-week; write `L` for the last day".into(),
                        _ => l_w_elsewhere(),
                    });
                }
                return Ok(Some(Element::LastOfMonth(parse_value(field, day)?)));
            }
            return Ok(None);
        }
    };
    Ok(Some(element))
}

fn l_w_elsewhere() -> String {
    "`L` and `W` forms are only valid in day-of-month (`L`, `W`, `nW`, `LW`) and day-of-week (`W`, `nL`)".into()
}

/// `*`, `*/s`, `a`, `a-b`, `a-b/s` and `a/s`.
fn parse_range(field: Field, text: &str) -> Result<Element, String> {
    let (low, high) = bounds(field);
    let (base, step) = match text.split_once('/') {
        Some((base, step)) => (base, Some(parse_step(field, step)?)),
        None => (text, None),
    };
    if base.is_empty() {
        return Err("a step needs a base: write `*/s`, `a/s` or `a-b/s`".into());
    }
    if base == "*" {
        return Ok(step.map_or(Element::Star, Element::StarStep));
    }
    if let Some((start, end_text)) = base.split_once('-') {
        let start = parse_value(field, start)?;
        let end = match parse_value(field, end_text)? {
            // `SAT-SUN` is the weekend: the name `SUN` ending a range is day 7.
            0 if field == Field::DayOfWeek && start > 0 && is_name(end_text) => 7,
            end => end,
        };
        if start > end {
            return Err(format!(
                "the range {start}-{end} is reversed; write it low to high{}",
                weekend_hint(field)
            ));
        }
        return Ok(Element::Range {
            start,
            end,
            step,
            open_end: false,
        });
    }
    let start = parse_value(field, base)?;
    Ok(match step {
        None => Element::Range {
            start,
            end: start,
            step: None,
            open_end: false,
        },
        // `a/s` runs to the field's end; day-of-week ends at 6, so `7/s` is just Sunday.
        Some(_) if field == Field::DayOfWeek && start == 7 => Element::Range {
            start,
            end: 7,
            step: None,
            open_end: false,
        },
        Some(step) => {
            let end = if field == Field::DayOfWeek { 6 } else { high };
            debug_assert!(start >= low);
            Element::Range {
                start,
                end,
                step: Some(step),
                open_end: true,
            }
        }
    })
}

fn weekend_hint(field: Field) -> &'static str {
    if field == Field::DayOfWeek {
        " (`6-7` is the weekend)"
    } else {
        ""
    }
}

fn parse_step(field: Field, text: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err("a step is missing after `/`".into());
    }
    let step = parse_number(text).ok_or_else(|| format!("the step `{text}` is not a number"))?;
    let (_, high) = bounds(field);
    match step {
        0 => Err("a step of 0 never advances; use 1 or more".into()),
        s if s > high => Err(format!("the step {s} is larger than the field allows (1-{high})")),
        s => Ok(s),
    }
}

/// A number or a name, checked against the field's range.
fn parse_value(field: Field, text: &str) -> Result<u32, String> {
    let (low, high) = bounds(field);
    let value = if is_digits(text) {
        parse_number(text).unwrap_or(u32::MAX)
    } else if is_name(text) {
        name_value(field, text)?
    } else if text.is_empty() {
        return Err("a number is missing".into());
    } else {
        return Err(format!("`{text}` is not a number"));
    };
    if value < low || value > high {
        return Err(format!("{text} is out of range {low}-{high}"));
    }
    Ok(value)
}

fn name_value(field: Field, name: &str) -> Result<u32, String> {
    let month = MONTH_NAMES.iter().position(|m| *m == name);
    let day = DAY_NAMES.iter().position(|d| *d == name);
    let to_u32 = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    match (field, month, day) {
        (Field::Month, Some(i), _) => Ok(to_u32(i) + 1),
        (Field::DayOfWeek, _, Some(i)) => Ok(to_u32(i)),
        (_, Some(_), _) => Err(format!("the month name `{name}` is only valid in the month field")),
        (_, _, Some(_)) => Err(format!("the day name `{name}` is only valid in the day-of-week field")),
        (Field::Month, None, None) => Err(format!("unknown month name `{name}`; use JAN-DEC")),
        (Field::DayOfWeek, None, None) => Err(format!("unknown day name `{name}`; use SUN-SAT")),
        _ => Err(format!("`{name}` is not a number")),
    }
}

fn bounds(field: Field) -> (u32, u32) {
    match field {
        Field::Second | Field::Minute => (0, 59),
        Field::Hour => (0, 23),
        Field::DayOfMonth => (1, 31),
        Field::Month => (1, 12),
        Field::DayOfWeek => (0, 7),
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_name(text: &str) -> bool {
    text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Parses ASCII digits; `None` on anything else, `u32::MAX` on overflow (always out of range).
fn parse_number(text: &str) -> Option<u32> {
    is_digits(text).then(|| text.parse().unwrap_or(u32::MAX))
}

/// Applies the rewrites croner needs and writes the patterns out.
fn assemble(mut fields: Vec<ParsedField>) -> Normalized {
    let hour = &fields[2];
    let hour_follows_real_time = hour.elements.iter().any(|e| match e {
        Element::Star | Element::StarStep(_) => true,
        Element::Range { step, .. } => step.is_some(),
        _ => false,
    });

    // Bare `W`: croner has no "Monday-Friday" in either day field. In day-of-week it is `1-5`.
    // In day-of-month it moves to day-of-week, which gives the same days: both fields
    // restricted means either may match, and a day-of-month left empty becomes `*`.
    for element in &mut fields[5].elements {
        if *element == Element::Weekdays {
            *element = WEEKDAYS;
        }
    }
    if fields[3].elements.contains(&Element::Weekdays) {
        fields[3].elements.retain(|e| *e != Element::Weekdays);
        let dow = &mut fields[5];
        if dow.star {
            *dow = ParsedField {
                field: Field::DayOfWeek,
                star: false,
                elements: vec![WEEKDAYS],
            };
        } else {
            dow.elements.push(WEEKDAYS);
        }
        if fields[3].elements.is_empty() {
            fields[3] = ParsedField {
                field: Field::DayOfMonth,
                star: true,
                elements: vec![Element::Star],
            };
        }
    }

    // croner reads `L` and `LW` in one list as `LW` alone; the union takes two patterns.
    let mut text: Vec<String> = fields.iter().map(render_field).collect();
    let dom = &fields[3].elements;
    let patterns = if dom.contains(&Element::LastDay) && dom.contains(&Element::LastWeekday) {
        let without_last: Vec<Element> = dom.iter().copied().filter(|e| *e != Element::LastDay).collect();
        text[3] = render_elements(Field::DayOfMonth, &without_last);
        let first = text.join(" ");
        text[3] = render_elements(Field::DayOfMonth, &[Element::LastDay]);
        vec![first, text.join(" ")]
    } else {
        vec![text.join(" ")]
    };
    Normalized {
        patterns,
        hour_follows_real_time,
    }
}

const WEEKDAYS: Element = Element::Range {
    start: 1,
    end: 5,
    step: None,
    open_end: false,
};

fn render_field(field: &ParsedField) -> String {
    if field.star {
        "*".to_string()
    } else {
        render_elements(field.field, &field.elements)
    }
}

fn render_elements(field: Field, elements: &[Element]) -> String {
    let (low, high) = bounds(field);
    let parts: Vec<String> = elements
        .iter()
        .map(|e| match *e {
            // A `*` inside a list must not read as the literal `*` that leaves a day field open.
            Element::Star => format!("{low}-{high}"),
            Element::StarStep(s) => format!("*/{s}"),
            Element::Range {
                start, end, step: None, ..
            } if start == end => start.to_string(),
            Element::Range {
                start, end, step: None, ..
            } => format!("{start}-{end}"),
            // croner runs `a/s` in day-of-week up to 7 (Sunday again); the dialect stops at 6.
            Element::Range {
                start,
                end,
                step: Some(s),
                open_end: true,
            } if field != Field::DayOfWeek => {
                debug_assert_eq!(end, high);
                format!("{start}/{s}")
            }
            Element::Range {
                start,
                end,
                step: Some(s),
                ..
            } => format!("{start}-{end}/{s}"),
            Element::LastDay => "L".into(),
            Element::LastWeekday => "LW".into(),
            Element::Weekdays => "1-5".into(),
            Element::NearestWeekday(n) => format!("{n}W"),
            Element::LastOfMonth(n) => format!("{n}L"),
            Element::Nth(n, k) => format!("{n}#{k}"),
        })
        .collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(spec: &str) -> Vec<String> {
        normalize(spec).expect("spec is valid").patterns
    }

    #[test]
    fn macros_expand_in_any_case_including_midnight() {
        assert_eq!(patterns("@MIDNIGHT"), ["0 0 0 * * *"]);
        assert_eq!(patterns("  @Weekly "), ["0 0 0 * * 0"]);
        assert_eq!(patterns("@annually"), ["0 0 0 1 1 *"]);
    }

    #[test]
    fn names_become_numbers_and_sunday_ends_a_range_as_seven() {
        assert_eq!(patterns("0 0 0 * jan-Mar sat-SUN"), ["0 0 0 * 1-3 6-7"]);
        assert_eq!(patterns("0 0 0 * * SUN-SAT"), ["0 0 0 * * 0-6"]);
        assert_eq!(patterns("0 0 0 * * fri#2,monL"), ["0 0 0 * * 5#2,1L"]);
    }

    #[test]
    fn bare_w_moves_from_day_of_month_to_day_of_week() {
        assert_eq!(patterns("0 0 0 W * *"), ["0 0 0 * * 1-5"]);
        assert_eq!(patterns("0 0 0 w,15 * 0"), ["0 0 0 15 * 0,1-5"]);
        assert_eq!(patterns("0 0 0 * * W"), ["0 0 0 * * 1-5"]);
    }

    #[test]
    fn day_of_week_open_steps_stop_at_saturday() {
        assert_eq!(patterns("0 0 0 * * 1/2"), ["0 0 0 * * 1-6/2"]);
        assert_eq!(patterns("0 0 0 * * 7/3"), ["0 0 0 * * 7"]);
        assert_eq!(patterns("5/20 0 0 * * *"), ["5/20 0 0 * * *"]);
    }

    #[test]
    fn last_day_and_last_weekday_together_split_into_two_patterns() {
        assert_eq!(patterns("0 0 0 l,lw,15 * *"), ["0 0 0 LW,15 * *", "0 0 0 L * *"]);
    }

    #[test]
    fn a_star_inside_a_list_is_written_as_a_range() {
        assert_eq!(patterns("0 0 0 *,5 * *"), ["0 0 0 1-31,5 * *"]);
    }

    #[test]
    fn hour_follows_real_time_only_for_star_or_step() {
        let real = |spec: &str| normalize(spec).expect("valid").hour_follows_real_time;
        assert!(real("0 0 * * * *"));
        assert!(real("0 0 */2 * * *"));
        assert!(real("0 0 1/2 * * *"));
        assert!(real("0 0 1-5/2 * * *"));
        assert!(!real("0 * 1 * * *"));
        assert!(!real("0 0 1-3 * * *"));
        assert!(!real("0 0 1,2 * * *"));
        assert!(!real("@daily"));
        assert!(real("@hourly"));
    }

    #[test]
    fn spans_point_at_the_offending_element() {
        let spec = "0 0 1,25 * * *";
        let err = normalize(spec).expect_err("25 is not an hour");
        assert_eq!(err.span().map(|s| &spec[s]), Some("25"));
        let spec = "0 0 0 1 JAN,FOO *";
        let err = normalize(spec).expect_err("FOO is not a month");
        assert_eq!(err.span().map(|s| &spec[s]), Some("FOO"));
    }
}
