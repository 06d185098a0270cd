//! `#[cron("...")]`: the spec and time zone, checked at compile time with `backtick-cron`.

use std::ops::Range;

use proc_macro2::Span;
use syn::LitStr;

use crate::attr::{Errors, Options};

/// The spec literal of `#[cron("...")]`.
pub(crate) struct CronSpec {
    pub(crate) lit: LitStr,
}

impl CronSpec {
    pub(crate) fn new(lit: LitStr) -> Self {
        CronSpec { lit }
    }

    /// The spec as written.
    pub(crate) fn value(&self) -> String {
        self.lit.value()
    }
}

/// The time zone a cron attribute runs in, `UTC` unless `tz` is given.
pub(crate) fn timezone(options: &Options) -> String {
    options
        .tz
        .as_ref()
        .map_or_else(|| "UTC".to_owned(), |(tz, _)| tz.clone())
}

/// Check the spec and the time zone, pointing at the offending literal.
pub(crate) fn check(options: &mut Options, errors: &mut Errors) {
    if let Some(spec) = &options.cron
        && let Err(error) = backtick_cron::CronSchedule::parse(&spec.value())
    {
        let span = error
            .span()
            .and_then(|range| subspan(&spec.lit, range))
            .unwrap_or_else(|| spec.lit.span());
        let pointer = error
            .span()
            .map(|range| caret(&spec.value(), range))
            .unwrap_or_default();
        errors.add(span, format!("{error}{pointer}"));
    }
    if let Some((tz, span)) = &options.tz
        && let Err(error) = backtick_cron::validate_timezone(tz)
    {
        errors.add(*span, format!("{error}"));
    }
}

/// The span of `range` (bytes of the spec's value) inside the literal, where the compiler can
/// give one (nightly) and the literal has no escapes; `None` otherwise.
fn subspan(lit: &LitStr, range: Range<usize>) -> Option<Span> {
    let token = lit.token();
    let written = token.to_string();
    // Only a plain "..." literal maps value bytes 1:1 onto source bytes (after the quote).
    if written.len() != lit.value().len() + 2 || !written.starts_with('"') {
        return None;
    }
    token.subspan(range.start + 1..range.end + 1)
}

/// The spec with the offending bytes underlined, appended to the message: stable compilers
/// cannot point inside a string literal, so the message does.
fn caret(spec: &str, range: Range<usize>) -> String {
    if range.end > spec.len() || range.start >= range.end || spec.contains('\n') {
        return String::new();
    }
    let pad = spec[..range.start].chars().count();
    let width = spec[range.clone()].chars().count().max(1);
    format!("\n  {spec}\n  {}{}", " ".repeat(pad), "^".repeat(width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_underlines_the_offending_field() {
        assert_eq!(caret("0 0 25 * * *", 4..6), "\n  0 0 25 * * *\n      ^^");
    }

    #[test]
    fn caret_is_left_out_for_a_range_outside_the_spec() {
        assert_eq!(caret("0 0", 2..9), "");
    }
}
