//! The attribute's options: parsed, checked, and every problem reported together.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

use crate::cron::CronSpec;

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Worker,
    Recurring,
    Cron,
}

impl Kind {
    /// The attribute as users write it, for messages.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Worker => "#[worker]",
            Kind::Recurring => "#[recurring]",
            Kind::Cron => "#[cron]",
        }
    }

    fn options(self) -> &'static [&'static str] {
        const COMMON: &[&str] = &["name", "queue", "max_attempts", "priority", "timeout", "codec", "crate"];
        match self {
            Kind::Worker => COMMON,
            Kind::Recurring => &[
                "every",
                "catch_up",
                "name",
                "queue",
                "max_attempts",
                "priority",
                "timeout",
                "codec",
                "crate",
            ],
            Kind::Cron => &[
                "tz",
                "catch_up",
                "name",
                "queue",
                "max_attempts",
                "priority",
                "timeout",
                "codec",
                "crate",
            ],
        }
    }
}

/// Collects errors so that all of them are reported at once (serde's `Ctxt`).
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn add(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// An error covering all of `tokens` (first to last token), not just the first.
    pub(crate) fn add_spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A payload codec, as named on the attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Cbor,
    Json,
}

/// What to do about fires missed while no runner was up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CatchUp {
    Once,
    Skip,
}

/// Every option of the three attributes; each kind accepts its own subset.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<String>,
    pub(crate) queue: Option<String>,
    pub(crate) max_attempts: Option<i32>,
    pub(crate) priority: Option<i16>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) codec: Option<Codec>,
    pub(crate) krate: Option<syn::Path>,
    pub(crate) every: Option<Duration>,
    /// `every` was written, valid or not (a bad one is reported on its own).
    pub(crate) every_given: bool,
    pub(crate) cron: Option<CronSpec>,
    pub(crate) tz: Option<(String, Span)>,
    pub(crate) catch_up: Option<CatchUp>,
    /// `unique(...)`, `#[worker]` only.
    pub(crate) unique: Option<crate::unique::UniqueOption>,
}

/// Parse the attribute's arguments. Syntax errors stop at once; every bad value, unknown or
/// repeated option is collected and reported together.
pub(crate) fn parse(kind: Kind, args: TokenStream, errors: &mut Errors) -> syn::Result<Options> {
    let parser = |input: ParseStream| parse_options(kind, input, errors);
    let mut options = parser.parse2(args)?;
    if kind == Kind::Cron {
        crate::cron::check(&mut options, errors);
    }
    if kind == Kind::Recurring && !options.every_given {
        errors.add(
            Span::call_site(),
            "#[recurring] needs an interval: write `#[recurring(every = \"5m\")]` (a duration such as \"30s\", \
             \"5m\", \"1h 30m\", or a number of milliseconds)",
        );
    }
    Ok(options)
}

fn parse_options(kind: Kind, input: ParseStream, errors: &mut Errors) -> syn::Result<Options> {
    let mut options = Options::default();
    if kind == Kind::Cron {
        if input.peek(LitStr) {
            let spec: LitStr = input.parse()?;
            options.cron = Some(CronSpec::new(spec));
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        } else {
            errors.add(
                input.span(),
                "#[cron] needs a cron spec first, as a string: `#[cron(\"0 0 14,16 * * *\")]` \
                 (six fields: second minute hour day-of-month month day-of-week)",
            );
        }
    }
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        if kind == Kind::Cron && input.peek(LitStr) {
            let stray: LitStr = input.parse()?;
            errors.add(
                stray.span(),
                "the cron spec must come first, before any `key = value` option",
            );
        } else {
            let key = input.call(Ident::parse_any)?;
            if key == "unique" && input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in input);
                if seen.iter().any(|name| name == "unique") {
                    errors.add(key.span(), "option `unique` is given twice; keep one");
                } else if kind != Kind::Worker {
                    errors.add(
                        key.span(),
                        format!("`unique(...)` is a #[worker] option; {} does not take it", kind.attr()),
                    );
                    // Read it all the same (its own errors aside), so that the options after it
                    // are still checked.
                    crate::unique::parse(&content, &mut Errors::default())?;
                } else {
                    seen.push("unique".to_owned());
                    options.unique = Some(crate::unique::parse(&content, errors)?);
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
                continue;
            }
            input.parse::<Token![=]>().map_err(|_| {
                syn::Error::new(
                    key.span(),
                    format!("expected `{key} = <value>`: every option takes a value"),
                )
            })?;
            let value: Expr = input.parse()?;
            let name = key.to_string();
            if seen.contains(&name) {
                errors.add(key.span(), format!("option `{name}` is given twice; keep one"));
            } else {
                options.every_given |= name == "every";
                seen.push(name);
                set(kind, &key, &value, &mut options, errors);
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(options)
}

fn set(kind: Kind, key: &Ident, value: &Expr, options: &mut Options, errors: &mut Errors) {
    let name = key.to_string();
    if !kind.options().contains(&name.as_str()) {
        let expected = kind
            .options()
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match (kind, name.as_str()) {
            (Kind::Worker, "every" | "catch_up") => "; a periodic job is `#[recurring(every = ...)]`",
            (Kind::Worker, "unique") => "; unique jobs are `unique(args, period = \"1h\", states = [queued, running])`",
            (Kind::Worker | Kind::Recurring, "tz") => "; a time zone applies to `#[cron]` only",
            (Kind::Cron, "every") => "; an interval is `#[recurring(every = ...)]`",
            _ => "",
        };
        errors.add(
            key.span(),
            format!(
                "unknown option `{name}` for {}; expected one of {expected}{hint}",
                kind.attr()
            ),
        );
        return;
    }
    let result = match name.as_str() {
        "name" => non_empty(value, "name").map(|v| options.name = Some(v)),
        "queue" => non_empty(value, "queue").map(|v| options.queue = Some(v)),
        "max_attempts" => max_attempts(value).map(|v| options.max_attempts = Some(v)),
        "priority" => priority(value).map(|v| options.priority = Some(v)),
        "timeout" => duration(value, "timeout").map(|v| options.timeout = Some(v)),
        "every" => duration(value, "every").map(|v| options.every = Some(v)),
        "codec" => codec(value).map(|v| options.codec = Some(v)),
        "catch_up" => catch_up(value).map(|v| options.catch_up = Some(v)),
        "tz" => string(value, "tz").map(|v| options.tz = Some((v.value(), v.span()))),
        "crate" => crate_path(value).map(|v| options.krate = Some(v)),
        _ => Ok(()),
    };
    if let Err(error) = result {
        errors.push(error);
    }
}

fn string<'a>(value: &'a Expr, option: &str) -> syn::Result<&'a LitStr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{option}` takes a string, such as `{option} = \"...\"`"),
        )),
    }
}

fn non_empty(value: &Expr, option: &str) -> syn::Result<String> {
    let lit = string(value, option)?;
    let text = lit.value();
    if text.trim().is_empty() {
        return Err(syn::Error::new(lit.span(), format!("`{option}` must not be empty")));
    }
    Ok(text)
}

/// An integer literal, possibly negated, as written.
fn integer(value: &Expr) -> Option<(bool, &syn::LitInt)> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Int(lit), .. }) => Some((false, lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), expr, ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit: Lit::Int(lit), .. }) => Some((true, lit)),
            _ => None,
        },
        _ => None,
    }
}

fn signed(value: &Expr) -> Option<i128> {
    let (negative, lit) = integer(value)?;
    let magnitude = lit.base10_parse::<i128>().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

fn max_attempts(value: &Expr) -> syn::Result<i32> {
    let error = || {
        syn::Error::new_spanned(
            value,
            "`max_attempts` takes a whole number from 1 to 2147483647 (attempts before a job goes dead)",
        )
    };
    let n = signed(value).ok_or_else(error)?;
    if n < 1 {
        return Err(error());
    }
    i32::try_from(n).map_err(|_| error())
}

fn priority(value: &Expr) -> syn::Result<i16> {
    let n = signed(value).ok_or_else(|| {
        syn::Error::new_spanned(
            value,
            "`priority` takes a whole number from -32768 to 32767 (lower runs first)",
        )
    })?;
    i16::try_from(n)
        .map_err(|_| syn::Error::new_spanned(value, format!("priority {n} is out of range: use -32768 to 32767")))
}

/// A duration: a human-readable string (`"30s"`, `"5m"`, `"1h 30m"`) or whole milliseconds.
pub(crate) fn duration(value: &Expr, option: &str) -> syn::Result<Duration> {
    let parsed = match value {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => humantime::parse_duration(&lit.value()).map_err(|e| {
            syn::Error::new(
                lit.span(),
                format!(
                    "invalid duration {:?} for `{option}`: {e}; write it like \"30s\", \"5m\" or \"1h 30m\", or as \
                     a number of milliseconds",
                    lit.value()
                ),
            )
        })?,
        Expr::Lit(ExprLit { lit: Lit::Int(lit), .. }) => Duration::from_millis(lit.base10_parse::<u64>()?),
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format!(
                    "`{option}` takes a duration such as \"30s\", \"5m\" or \"1h 30m\", or a number of milliseconds"
                ),
            ));
        }
    };
    if parsed < Duration::from_millis(1) {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{option}` must be at least 1ms"),
        ));
    }
    Ok(parsed)
}

fn codec(value: &Expr) -> syn::Result<Codec> {
    let lit = string(value, "codec")?;
    match lit.value().as_str() {
        "cbor" => Ok(Codec::Cbor),
        "json" => Ok(Codec::Json),
        other => Err(syn::Error::new(
            lit.span(),
            format!("unknown codec {other:?}: use \"cbor\" (the default) or \"json\""),
        )),
    }
}

fn catch_up(value: &Expr) -> syn::Result<CatchUp> {
    let lit = string(value, "catch_up")?;
    match lit.value().as_str() {
        "once" => Ok(CatchUp::Once),
        "skip" => Ok(CatchUp::Skip),
        other => Err(syn::Error::new(
            lit.span(),
            format!(
                "unknown catch_up {other:?}: use \"once\" (the default: one run for all fires missed while no runner \
                 was up) or \"skip\" (drop them)"
            ),
        )),
    }
}

fn crate_path(value: &Expr) -> syn::Result<syn::Path> {
    let lit = string(value, "crate")?;
    lit.parse::<syn::Path>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`crate` takes a path to the backtick crate, such as \"backtick_postgres\"; {:?} is not a path",
                lit.value()
            ),
        )
    })
}
