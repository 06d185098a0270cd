//! `#[worker(unique(args, period = "1h", states = [queued, running]))]`: parsed and checked
//! here, expanded into a `Unique` applied by the generated `job(...)`.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Expr, Ident, Token};

use crate::attr::Errors;

/// The states a job may be unique in, as written.
const STATES: [&str; 5] = ["queued", "running", "done", "dead", "cancelled"];

/// What the key is made of.
pub(crate) enum UniqueArgs {
    /// The worker alone (`args` not given).
    None,
    /// Every argument: `args`.
    All,
    /// The named arguments: `args = [a, b]`.
    Some(Vec<Ident>),
}

/// A parsed `unique(...)`.
pub(crate) struct UniqueOption {
    pub(crate) args: UniqueArgs,
    pub(crate) period: Option<Duration>,
    pub(crate) states: Option<Vec<Ident>>,
}

/// Parse the inside of `unique(...)`; every bad item is reported to `errors`.
pub(crate) fn parse(input: ParseStream, errors: &mut Errors) -> syn::Result<UniqueOption> {
    let mut option = UniqueOption {
        args: UniqueArgs::None,
        period: None,
        states: None,
    };
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        let key = input.call(Ident::parse_any)?;
        let name = key.to_string();
        if seen.contains(&name) {
            errors.add(
                key.span(),
                format!("`{name}` is given twice in `unique(...)`; keep one"),
            );
        }
        seen.push(name.clone());
        match name.as_str() {
            "args" if input.peek(Token![=]) => {
                input.parse::<Token![=]>()?;
                let names = bracketed_idents(input)?;
                if names.is_empty() {
                    errors.add(
                        key.span(),
                        "`args = []` names no argument; write `args` for all of them, or leave it out to be unique \
                         per worker",
                    );
                }
                option.args = UniqueArgs::Some(names);
            }
            "args" => option.args = UniqueArgs::All,
            "period" => {
                input.parse::<Token![=]>()?;
                let value: Expr = input.parse()?;
                match crate::attr::duration(&value, "period") {
                    Ok(period) => option.period = Some(period),
                    Err(error) => errors.push(error),
                }
            }
            "states" => {
                input.parse::<Token![=]>()?;
                let states = bracketed_idents(input)?;
                check_states(&key, &states, errors);
                option.states = Some(states);
            }
            other => {
                errors.add(
                    key.span(),
                    format!(
                        "unknown item `{other}` in `unique(...)`; expected `args`, `args = [name, ...]`, \
                         `period = \"1h\"` or `states = [queued, running, ...]`"
                    ),
                );
                // Skip its value, if any, so that the items after it are still checked.
                if input.parse::<Option<Token![=]>>()?.is_some() {
                    input.parse::<Expr>()?;
                }
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(option)
}

fn bracketed_idents(input: ParseStream) -> syn::Result<Vec<Ident>> {
    let content;
    syn::bracketed!(content in input);
    let names = content.parse_terminated(Ident::parse_any, Token![,])?;
    Ok(names.into_iter().collect())
}

fn check_states(key: &Ident, states: &[Ident], errors: &mut Errors) {
    for state in states {
        if !STATES.contains(&state.to_string().as_str()) {
            errors.add(
                state.span(),
                format!("unknown job state `{state}`; expected one of queued, running, done, dead, cancelled"),
            );
        }
    }
    let has = |name: &str| states.iter().any(|state| state == name);
    if !(has("queued") && has("running")) {
        errors.add(
            key.span(),
            "unique `states` must include `queued` and `running` (a job moves between them by itself); add the \
             finished states that should also block a new job, e.g. `states = [queued, running, done]`",
        );
    }
}

/// Check `args = [..]` against the function's arguments.
pub(crate) fn check_args(option: &UniqueOption, arguments: &[&Ident], errors: &mut Errors) {
    if let UniqueArgs::Some(names) = &option.args {
        for name in names {
            if !arguments.contains(&name) {
                let known = arguments
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let known = if known.is_empty() {
                    "it takes none".to_owned()
                } else {
                    format!("its arguments are {known}")
                };
                errors.add(
                    name.span(),
                    format!("`{name}` in `unique(args = [...])` is not an argument of the worker; {known}"),
                );
            }
        }
    }
}

/// The expression building the `Unique` (a `Result` for the `try_unique` of a `TypedJob`),
/// evaluated before the arguments are moved into the job.
pub(crate) fn build(option: &UniqueOption, p: &TokenStream) -> TokenStream {
    let base = match &option.args {
        UniqueArgs::None => quote!(#p::Result::Ok(#p::Unique::by_worker())),
        UniqueArgs::All => quote!(#p::Result::Ok(#p::Unique::by_args())),
        UniqueArgs::Some(names) => quote!(#p::Unique::by_value(&(#(&#names,)*))),
    };
    let period = option.period.map(|period| {
        let (secs, nanos) = (period.as_secs(), period.subsec_nanos());
        quote!(.period(#p::Duration::new(#secs, #nanos)))
    });
    let states = option.states.as_ref().map(|states| {
        let variants = states.iter().map(|state| {
            let variant = match state.to_string().as_str() {
                "queued" => quote!(Queued),
                "running" => quote!(Running),
                "done" => quote!(Done),
                "dead" => quote!(Dead),
                _ => quote!(Cancelled),
            };
            quote!(#p::JobState::#variant)
        });
        quote!(.states([#(#variants),*]))
    });
    quote!(#p::Result::map(#base, |__unique: #p::Unique| __unique #period #states))
}
