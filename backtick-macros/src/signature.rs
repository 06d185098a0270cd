//! The annotated function's signature: which arguments are job arguments, which is the
//! `JobContext`, and everything that cannot be a worker.

use proc_macro2::Span;
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::attr::{Errors, Kind};

/// How the function takes its `JobContext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextArg {
    ByValue,
    ByRef,
}

/// One input of the annotated function, in order.
pub(crate) enum Input {
    /// The job's context, handed over by the runner.
    Context(ContextArg),
    /// A job argument: encoded when scheduled, decoded when run.
    Arg { name: Ident, ty: Box<Type> },
    /// `State<T>`: the runner's state of type `T`, not part of the job.
    State(Box<Type>),
}

/// What the expansion needs to know about the function.
pub(crate) struct Signature {
    pub(crate) inputs: Vec<Input>,
    /// Where errors about the return type point: the type, or the name when there is none.
    pub(crate) output_span: Span,
    /// The parenthesized argument list.
    pub(crate) args_span: Span,
}

impl Signature {
    /// The job arguments, in order.
    pub(crate) fn args(&self) -> impl Iterator<Item = (&Ident, &Type)> {
        self.inputs.iter().filter_map(|input| match input {
            Input::Arg { name, ty } => Some((name, &**ty)),
            Input::Context(_) | Input::State(_) => None,
        })
    }

    /// The types `T` of the `State<T>` inputs, in order.
    pub(crate) fn states(&self) -> impl Iterator<Item = &Type> {
        self.inputs.iter().filter_map(|input| match input {
            Input::State(ty) => Some(&**ty),
            _ => None,
        })
    }
}

/// Read the signature, reporting every problem to `errors`.
pub(crate) fn analyze(kind: Kind, item: &ItemFn, errors: &mut Errors) -> Signature {
    let sig = &item.sig;
    let attr = kind.attr();
    if sig.asyncness.is_none() {
        errors.add(
            sig.fn_token.span(),
            format!("{attr} needs an `async fn`: write `async fn {}`", sig.ident),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.add(constness.span(), format!("{attr} cannot be on a `const fn`"));
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.add(
            token.span(),
            format!("{attr} cannot be on an `unsafe fn`: the runner has no way to uphold its contract"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.add(abi.span(), format!("{attr} cannot be on an `extern` function"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let (generics, where_clause) = (&sig.generics, &sig.generics.where_clause);
        errors.add_spanned(
            quote::quote!(#generics #where_clause),
            format!(
                "{attr} cannot be on a generic function: job arguments are decoded into concrete types when the job \
                 runs; remove the type, lifetime and const parameters"
            ),
        );
    }
    let mut inputs = Vec::new();
    let mut context_seen = false;
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => errors.add_spanned(
                receiver,
                format!(
                    "{attr} must be on a free function, not a method: there is no `self` to call it on when the job \
                     runs; move it out of the `impl` block"
                ),
            ),
            FnArg::Typed(arg) => {
                if let Some(context) = context_arg(&arg.ty, errors) {
                    if context_seen {
                        errors.add_spanned(&arg.ty, "only one argument can be the `JobContext`");
                    }
                    context_seen = true;
                    inputs.push(Input::Context(context));
                    continue;
                }
                if let Some(state) = state_arg(&arg.ty) {
                    inputs.push(Input::State(Box::new(state.clone())));
                    continue;
                }
                check_arg_type(&arg.ty, errors);
                if kind != Kind::Worker {
                    errors.add_spanned(
                        arg,
                        format!(
                            "{attr} functions take no job arguments: each fire runs them with none; only a \
                             `JobContext` argument is allowed (use #[worker] for a job with arguments)"
                        ),
                    );
                }
                let mut name = arg_name(&arg.pat, index);
                if inputs
                    .iter()
                    .any(|i| matches!(i, Input::Arg { name: other, .. } if *other == name))
                {
                    name = format_ident!("arg{}", index);
                }
                inputs.push(Input::Arg {
                    name,
                    ty: arg.ty.clone(),
                });
            }
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.add(variadic.span(), format!("{attr} cannot be on a variadic function"));
    }
    let output_span = match &sig.output {
        ReturnType::Default => sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    Signature {
        inputs,
        output_span,
        args_span: sig.paren_token.span.join(),
    }
}

/// `JobContext` or `&JobContext` (by the last path segment, so `backtick_postgres::JobContext` works).
fn context_arg(ty: &Type, errors: &mut Errors) -> Option<ContextArg> {
    match ty {
        Type::Path(path) if is_context(path) => Some(ContextArg::ByValue),
        Type::Reference(reference) => match &*reference.elem {
            Type::Path(path) if is_context(path) => {
                if let Some(mutability) = &reference.mutability {
                    errors.add(
                        mutability.span(),
                        "take the `JobContext` by value or by `&`, not by `&mut`",
                    );
                }
                Some(ContextArg::ByRef)
            }
            _ => None,
        },
        Type::Paren(inner) => context_arg(&inner.elem, errors),
        Type::Group(inner) => context_arg(&inner.elem, errors),
        _ => None,
    }
}

/// `T` of `State<T>` (by the last path segment, so `backtick_postgres::State<T>` works).
fn state_arg(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last().filter(|_| path.qself.is_none())?;
    if segment.ident != "State" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

fn is_context(path: &syn::TypePath) -> bool {
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "JobContext" && s.arguments.is_empty())
}

/// Reject what can never be a stored, decoded argument. Serde bounds are left to the compiler
/// (the generated code asserts them with the argument type's span).
fn check_arg_type(ty: &Type, errors: &mut Errors) {
    match ty {
        Type::Reference(reference) => errors.add_spanned(
            reference,
            "a job argument must own its data: it is decoded from the stored job when the job runs; use `String` \
             instead of `&str`, `Vec<T>` instead of `&[T]`, or `T` instead of `&T`",
        ),
        Type::ImplTrait(imp) => errors.add_spanned(
            imp,
            "a job argument needs a concrete type: it is decoded from the stored job when the job runs; `impl Trait` \
             cannot be decoded",
        ),
        Type::Infer(infer) => errors.add(infer.span(), "a job argument needs a concrete type, not `_`"),
        Type::Ptr(ptr) => errors.add_spanned(ptr, "a raw pointer cannot be a job argument"),
        Type::Paren(inner) => check_arg_type(&inner.elem, errors),
        Type::Group(inner) => check_arg_type(&inner.elem, errors),
        Type::Array(array) => check_arg_type(&array.elem, errors),
        Type::Slice(slice) => check_arg_type(&slice.elem, errors),
        Type::Tuple(tuple) => tuple.elems.iter().for_each(|elem| check_arg_type(elem, errors)),
        Type::Path(path) => {
            for segment in &path.path.segments {
                if let syn::PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let syn::GenericArgument::Type(inner) = arg {
                            check_arg_type(inner, errors);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// The argument's name in the generated `job(...)` and `schedule(...)`: the binding when the
/// pattern is a plain name, otherwise `arg<n>`.
fn arg_name(pat: &Pat, index: usize) -> Ident {
    match pat {
        Pat::Ident(binding) if binding.subpat.is_none() => {
            let name = binding.ident.to_string();
            if name.starts_with("r#") {
                return binding.ident.clone();
            }
            let name = name.trim_start_matches('_');
            if name.is_empty() {
                format_ident!("arg{}", index)
            } else {
                Ident::new(name, binding.ident.span())
            }
        }
        _ => format_ident!("arg{}", index),
    }
}
