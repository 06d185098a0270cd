//! What the environment asks of containers: `BACKTICK_TEST_CONTAINER` and
//! `BACKTICK_TEST_POSTGRES_IMAGE`. Plain parsing, compiled with or without the `testcontainers`
//! feature, so that a request for a container never goes unnoticed.

use std::fmt;

use super::TestDbError;

/// The image used when `BACKTICK_TEST_POSTGRES_IMAGE` is not set: the official one.
pub const DEFAULT_POSTGRES_IMAGE: &str = "postgres:17-alpine";

/// Whether tests get their PostgreSQL from a container, as `BACKTICK_TEST_CONTAINER` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContainerMode {
    /// Unset or empty: `TestPostgres` tries a container and falls back to the test server;
    /// `server_url` does not start one.
    Auto(ImageRef),
    /// `0`, `off`, `false` or `no`: never a container.
    Off,
    /// `1`, `on`, `true`, `yes`, or an image (`name:tag`): every test server is a container,
    /// and failing to start one is an error, not a fallback.
    Required(ImageRef),
}

impl ContainerMode {
    /// The mode the environment asks for.
    pub(crate) fn from_env() -> Result<Self, TestDbError> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
        Self::parse(
            var("BACKTICK_TEST_CONTAINER").as_deref(),
            var("BACKTICK_TEST_POSTGRES_IMAGE").as_deref(),
        )
    }

    fn parse(container: Option<&str>, image: Option<&str>) -> Result<Self, TestDbError> {
        let image = ImageRef::parse(image.unwrap_or(DEFAULT_POSTGRES_IMAGE).trim());
        let Some(value) = container.map(str::trim) else {
            return Ok(Self::Auto(image));
        };
        match value.to_ascii_lowercase().as_str() {
            "0" | "off" | "false" | "no" => Ok(Self::Off),
            "1" | "on" | "true" | "yes" => Ok(Self::Required(image)),
            _ if value.contains([':', '/']) => Ok(Self::Required(ImageRef::parse(value))),
            _ => Err(TestDbError::InvalidContainerSetting {
                value: value.to_owned(),
            }),
        }
    }
}

/// An image reference split the way testcontainers wants it: `name` (with any registry and
/// path) and `tag` (`latest` when none is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    pub(crate) name: String,
    pub(crate) tag: String,
}

impl ImageRef {
    pub(crate) fn parse(reference: &str) -> Self {
        // A colon after the last slash starts the tag; one before it belongs to a registry port.
        let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
        match reference[last_slash..].rfind(':') {
            Some(colon) => Self {
                name: reference[..last_slash + colon].to_owned(),
                tag: reference[last_slash + colon + 1..].to_owned(),
            },
            None => Self {
                name: reference.to_owned(),
                tag: "latest".to_owned(),
            },
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn image(name: &str, tag: &str) -> ImageRef {
        ImageRef {
            name: name.to_owned(),
            tag: tag.to_owned(),
        }
    }

    #[test]
    fn unset_means_auto_with_the_official_image_or_the_configured_one() {
        assert_eq!(
            ContainerMode::parse(None, None).unwrap(),
            ContainerMode::Auto(image("postgres", "17-alpine"))
        );
        assert_eq!(
            ContainerMode::parse(None, Some("backtick-postgres:15-local")).unwrap(),
            ContainerMode::Auto(image("backtick-postgres", "15-local"))
        );
    }

    #[test]
    fn yes_and_no_words_switch_containers_on_and_off() {
        for on in ["1", "true", "YES", " on "] {
            assert_eq!(
                ContainerMode::parse(Some(on), Some("pg:1")).unwrap(),
                ContainerMode::Required(image("pg", "1")),
                "{on:?}"
            );
        }
        for off in ["0", "false", "No", "off"] {
            assert_eq!(
                ContainerMode::parse(Some(off), None).unwrap(),
                ContainerMode::Off,
                "{off:?}"
            );
        }
    }

    #[test]
    fn an_image_as_the_value_asks_for_that_image() {
        assert_eq!(
            ContainerMode::parse(Some("backtick-postgres:15-local"), Some("ignored:1")).unwrap(),
            ContainerMode::Required(image("backtick-postgres", "15-local"))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_value() {
        let error = ContainerMode::parse(Some("maybe"), None).unwrap_err();
        assert!(error.to_string().contains("\"maybe\""), "{error}");
    }

    #[test]
    fn image_references_split_at_the_tag_not_at_a_registry_port() {
        assert_eq!(ImageRef::parse("postgres"), image("postgres", "latest"));
        assert_eq!(
            ImageRef::parse("localhost:5000/team/pg:16"),
            image("localhost:5000/team/pg", "16")
        );
        assert_eq!(
            ImageRef::parse("localhost:5000/pg"),
            image("localhost:5000/pg", "latest")
        );
        assert_eq!(ImageRef::parse("pg:16").to_string(), "pg:16");
    }
}
