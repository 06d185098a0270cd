//! Payload codecs: how a job's arguments are turned into bytes and back.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How a job's arguments are encoded. Chosen per worker; stored with each job.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::Codec;
/// let bytes = Codec::Json.encode(&(3, 4))?;
/// assert_eq!(bytes, b"[3,4]");
/// let back: (i32, i32) = Codec::Json.decode(&bytes)?;
/// assert_eq!(back, (3, 4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Codec {
    /// CBOR via `ciborium`: compact and binary. The default.
    #[default]
    Cbor,
    /// JSON via `serde_json`: readable in the database.
    Json,
}

impl Codec {
    /// The lowercase name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Cbor => "cbor",
            Codec::Json => "json",
        }
    }

    /// Encode `value`.
    ///
    /// # Errors
    /// [`EncodeError`] when serde cannot serialize the value.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, EncodeError> {
        match self {
            Codec::Cbor => {
                let mut out = Vec::new();
                ciborium::into_writer(value, &mut out).map_err(|e| EncodeError {
                    codec: self,
                    message: e.to_string(),
                })?;
                Ok(out)
            }
            Codec::Json => {
                // serde_json writes NaN and the infinities as `null`, which then does not decode
                // into the float the worker expects: refuse them here, at enqueue.
                reject_non_finite_floats(value)?;
                serde_json::to_vec(value).map_err(|e| EncodeError {
                    codec: self,
                    message: e.to_string(),
                })
            }
        }
    }

    /// Decode `bytes` into a `T`.
    ///
    /// # Errors
    /// [`DecodeError`] when the bytes are not a valid encoding of a `T`.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        let result = match self {
            Codec::Cbor => ciborium::from_reader(bytes).map_err(|e| e.to_string()),
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
        };
        result.map_err(|message| DecodeError {
            codec: self,
            type_name: std::any::type_name::<T>(),
            message,
        })
    }
}

/// [`EncodeError`] when `value` holds a NaN or an infinite float (JSON has no way to store them).
fn reject_non_finite_floats<T: Serialize + ?Sized>(value: &T) -> Result<(), EncodeError> {
    fn find(value: &ciborium::Value) -> Option<f64> {
        match value {
            ciborium::Value::Float(f) if !f.is_finite() => Some(*f),
            ciborium::Value::Array(items) => items.iter().find_map(find),
            ciborium::Value::Map(entries) => entries.iter().find_map(|(k, v)| find(k).or_else(|| find(v))),
            ciborium::Value::Tag(_, inner) => find(inner),
            _ => None,
        }
    }
    // A value CBOR cannot represent either is left for serde_json to report.
    let Ok(tree) = ciborium::Value::serialized(value) else {
        return Ok(());
    };
    match find(&tree) {
        None => Ok(()),
        Some(bad) => Err(EncodeError {
            codec: Codec::Json,
            message: format!(
                "the arguments hold the float {bad}, which JSON cannot store (it would become null): \
                 pass a finite number, an Option, or use the CBOR codec"
            ),
        }),
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not the name of a [`Codec`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec {0:?}: expected \"cbor\" or \"json\"")]
pub struct UnknownCodec(pub String);

impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cbor" => Ok(Codec::Cbor),
            "json" => Ok(Codec::Json),
            other => Err(UnknownCodec(other.to_owned())),
        }
    }
}

/// Arguments could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode job arguments as {codec}: {message}")]
pub struct EncodeError {
    /// The codec that failed.
    pub codec: Codec,
    /// What serde reported.
    pub message: String,
}

/// A stored payload could not be decoded into the worker's argument type.
/// A job whose payload does not decode goes straight to dead: retrying cannot fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable payload: cannot decode {codec} arguments as {type_name}: {message}")]
pub struct DecodeError {
    /// The codec the job was stored with.
    pub codec: Codec,
    /// The type the worker expected.
    pub type_name: &'static str,
    /// What serde reported.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Args {
        x: i64,
        name: String,
    }

    #[test]
    fn json_refuses_nan_and_infinity_and_cbor_keeps_them() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let error = Codec::Json.encode(&(1, vec![("x", bad)])).unwrap_err();
            assert_eq!(error.codec, Codec::Json);
            assert!(error.message.contains("JSON cannot store"), "{error}");
            let bytes = Codec::Cbor.encode(&(bad,)).unwrap();
            let (back,): (f64,) = Codec::Cbor.decode(&bytes).unwrap();
            assert_eq!(back.to_bits(), bad.to_bits());
        }
        assert_eq!(Codec::Json.encode(&(1.5f64, -2.0f32)).unwrap(), b"[1.5,-2.0]");
    }

    #[test]
    fn both_codecs_round_trip() {
        let args = Args {
            x: -5,
            name: "héllo".into(),
        };
        for codec in [Codec::Cbor, Codec::Json] {
            let bytes = codec.encode(&args).unwrap();
            assert_eq!(codec.decode::<Args>(&bytes).unwrap(), args);
            assert_eq!(codec.as_str().parse::<Codec>(), Ok(codec));
        }
    }

    #[test]
    fn decode_error_names_the_codec_and_type() {
        let err = Codec::Json.decode::<Args>(b"[1,2]").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("json"), "{text}");
        assert!(text.contains("Args"), "{text}");
        assert!(Codec::Cbor.decode::<Args>(&[0xff, 0x00]).is_err());
    }
}
