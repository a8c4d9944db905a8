//! Declarative macros for the two shapes this crate repeats: open enums and string id newtypes.

/// An enum over an upstream's string values that keeps values it does not know.
///
/// The upstreams add values without notice (`integrations_server` arrived in a minor release), so
/// every enum ends in `Unknown(String)` carrying the raw text, and parsing never fails. Known values
/// match exactly first, then ASCII case-insensitively (the v1 spec spells its own default `Daily`).
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Unknown(raw) => raw,
                }
            }

            /// Whether this is one of the documented values.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                match raw {
                    $( $text => return $name::$variant, )+
                    _ => {}
                }
                $( if raw.eq_ignore_ascii_case($text) { return $name::$variant; } )+
                $name::Unknown(raw.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                match $name::from(raw.as_str()) {
                    $name::Unknown(_) => $name::Unknown(raw),
                    known => known,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Ok($name::from(raw))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok($name::from(raw.into_owned()))
            }
        }
    };
}

/// A string id newtype, so a deployment id cannot be passed where an organization id is wanted.
///
/// Ids deserialize from strings and, tolerantly, from integers: organization ids are numeric
/// strings that some clients declare as integers (the ess_billing "scientific notation" bug).
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw id. No validation: the upstream is the authority on what exists.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// An id a caller sent, refused when it cannot be one (see [`crate::ids::check`]):
            /// the caller's error, found before any upstream is asked.
            pub fn parse(id: &str) -> Result<Self, $crate::ids::IdError> {
                $crate::ids::check(id).map(|()| $name(id.to_owned()))
            }

            /// The raw id.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The raw id, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::serde_util::string_or_integer(d).map($name)
            }
        }
    };
}
