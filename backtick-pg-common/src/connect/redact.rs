//! Urls in messages, without their password.

/// `url` with the password (if any) replaced by `***`. Works on text that does not parse as a
/// url, so that an error message about a malformed url never shows the password: text without
/// `://` is not shown at all, since there is no telling which part is a password.
///
/// # Examples
/// ```
/// use backtick_pg_common::redact_url;
/// assert_eq!(redact_url("postgres://bob:s3cret@db/app"), "postgres://bob:***@db/app");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return "(not shown: it is not a url)".to_owned();
    };
    let (prefix, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!("{}:***{}", &rest[..colon], &rest[at..]),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    format!("{prefix}{}", redact_password_parameter(&rest))
}

/// `...?password=secret&x=1` becomes `...?password=***&x=1`.
fn redact_password_parameter(text: &str) -> String {
    let Some(query) = text.find('?') else {
        return text.to_owned();
    };
    let (path, params) = text.split_at(query + 1);
    let params: Vec<String> = params
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{path}{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_the_password_and_keeps_everything_else() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/app"),
            "postgres://bob:***@db:5432/app"
        );
        assert_eq!(
            redact_url("postgres://bob:p@ss@db/app?x=1"),
            "postgres://bob:***@db/app?x=1"
        );
        assert_eq!(redact_url("postgres://bob@db/app"), "postgres://bob@db/app");
        assert_eq!(redact_url("postgres://db:notaport/app"), "postgres://db:notaport/app");
        assert_eq!(
            redact_url("postgres://db/app?user=bob&password=s3cret"),
            "postgres://db/app?user=bob&password=***"
        );
        assert!(!redact_url("bob:s3cret").contains("s3cret"));
        assert!(!redact_url("bob:s3cret@db/app").contains("s3cret"));
    }
}
