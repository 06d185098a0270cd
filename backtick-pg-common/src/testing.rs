//! Checks that both backends' unit tests run against their own driver's half of the shared
//! code. Not part of the API.

use std::fmt::Debug;

use crate::connect::{ConnectError, URL_VAR};

/// Assert that `parse` (a backend's url parser) refuses malformed urls with a message that
/// names the problem and the variable, and never the password.
///
/// # Panics
/// When it does not.
pub fn assert_malformed_urls_are_explained_without_the_password<T: Debug>(
    parse: impl Fn(&str, Option<&'static str>) -> Result<T, ConnectError>,
) {
    for (url, problem) in [
        ("postgres://bob:hunter2@db:notaport/app", "port"),
        ("mysql://bob:hunter2@db/app", "scheme"),
        ("bob:hunter2@db/app", "scheme"),
    ] {
        let text = match parse(url, Some(URL_VAR)) {
            Ok(parsed) => panic!("{url} parsed as {parsed:?}"),
            Err(error) => error.to_string(),
        };
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(problem) && text.contains(URL_VAR), "{text}");
    }
}
