//! Newtype ids for the things the upstreams name, and what a caller's id may hold.

/// The longest id accepted from a caller. Real ids are 10 to 32 characters.
pub const MAX_ID_LEN: usize = 128;

/// Why a caller's id cannot be an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id cannot be empty")]
    Empty,
    #[error("an id cannot be longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error("an id cannot be \".\" or \"..\"")]
    Dots,
    #[error("an id cannot contain \"/\" or \"\\\"")]
    Slash,
    #[error("an id cannot contain control characters")]
    Control,
}

/// Whether `id` can be an id: not empty, at most [`MAX_ID_LEN`] bytes, not `.` or `..`, and
/// without slashes or control characters. Nothing stricter: the upstream is the authority on
/// which ids exist, and their formats are not all documented.
pub fn check(id: &str) -> Result<(), IdError> {
    match id {
        "" => Err(IdError::Empty),
        "." | ".." => Err(IdError::Dots),
        _ if id.len() > MAX_ID_LEN => Err(IdError::TooLong),
        _ if id.contains(['/', '\\']) => Err(IdError::Slash),
        _ if id.chars().any(char::is_control) => Err(IdError::Control),
        _ => Ok(()),
    }
}

id_type!(
    /// An Elastic Cloud organization id, in practice a numeric string such as `3166899605`.
    OrganizationId
);
id_type!(
    /// An Elastic Cloud deployment id, 32 lowercase hex characters.
    DeploymentId
);
id_type!(
    /// An Elastic Cloud v2 instance id: a deployment id or a serverless project id.
    InstanceId
);
id_type!(
    /// A Talkdesk account id, 24 hex characters (Mongo-style).
    AccountId
);

impl From<DeploymentId> for InstanceId {
    /// A deployment is the v2 instance of the same id.
    fn from(id: DeploymentId) -> Self {
        InstanceId(id.0)
    }
}

impl From<InstanceId> for DeploymentId {
    fn from(id: InstanceId) -> Self {
        DeploymentId(id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_are_checked() {
        assert_eq!(OrganizationId::parse("3166899605").map(|i| i.into_inner()), Ok("3166899605".to_owned()));
        assert!(DeploymentId::parse("f3b1c8a2e4d64b0f9a7c1e2d3b4a5c6d").is_ok());
        assert_eq!(check(""), Err(IdError::Empty));
        assert_eq!(check("."), Err(IdError::Dots));
        assert_eq!(check(".."), Err(IdError::Dots));
        assert_eq!(check("a/b"), Err(IdError::Slash));
        assert_eq!(check("a\\b"), Err(IdError::Slash));
        assert_eq!(check("a\u{0}b"), Err(IdError::Control));
        assert_eq!(check("a\nb"), Err(IdError::Control));
        assert_eq!(check("a\u{85}b"), Err(IdError::Control));
        assert_eq!(check(&"9".repeat(MAX_ID_LEN)), Ok(()));
        assert_eq!(check(&"9".repeat(MAX_ID_LEN + 1)), Err(IdError::TooLong));
        // Dots inside an id, percent signs and other punctuation are the upstream's to judge.
        assert_eq!(check("a..b"), Ok(()));
        assert_eq!(check("%2e%2e"), Ok(()));
    }
}
