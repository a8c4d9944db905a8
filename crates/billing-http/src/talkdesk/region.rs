//! Talkdesk's regions: each has its own identity host (the token endpoint) and API host.

use std::fmt;
use std::str::FromStr;

use crate::base_url::{self, BaseUrlError};

/// A Talkdesk region (`CONTRACT.md` §3.2): US, EU or CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TalkdeskRegion {
    /// `{account}.talkdeskid.com`, `api.talkdeskapp.com`.
    #[default]
    Us,
    /// `{account}.talkdeskid.eu`, `api.talkdeskapp.eu`.
    Eu,
    /// `{account}.talkdeskidca.com`, `api.talkdeskappca.com`.
    Ca,
}

/// Not one of `us`, `eu`, `ca`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown talkdesk region: expected us, eu or ca")]
pub struct UnknownRegion;

impl TalkdeskRegion {
    /// Every region.
    pub const ALL: [TalkdeskRegion; 3] = [TalkdeskRegion::Us, TalkdeskRegion::Eu, TalkdeskRegion::Ca];

    /// `us`, `eu` or `ca`.
    pub fn as_str(self) -> &'static str {
        match self {
            TalkdeskRegion::Us => "us",
            TalkdeskRegion::Eu => "eu",
            TalkdeskRegion::Ca => "ca",
        }
    }

    /// The API's base URL in this region.
    ///
    /// The contract names the US host and, as an example of "Supported Regions and Base URLs",
    /// the EU one; the CA host follows the pattern of its identity host (inferred). A deployment
    /// that finds otherwise sets the URL outright.
    pub fn api_base_url(self) -> &'static str {
        match self {
            TalkdeskRegion::Us => "https://api.talkdeskapp.com",
            TalkdeskRegion::Eu => "https://api.talkdeskapp.eu",
            TalkdeskRegion::Ca => "https://api.talkdeskappca.com",
        }
    }

    /// The token endpoint of `account` (its Talkdesk subdomain) in this region, such as
    /// `https://acme.talkdeskid.com/oauth/token`.
    ///
    /// The account must be one DNS label (letters, digits and `-`), so it can only ever name a
    /// host under the region's identity domain.
    pub fn token_url(self, account: &str) -> Result<String, BaseUrlError> {
        let label = account.trim().to_ascii_lowercase();
        let is_label = (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !is_label {
            return Err(BaseUrlError::new("the talkdesk account must be one host name label (letters, digits, '-')"));
        }
        let domain = match self {
            TalkdeskRegion::Us => "talkdeskid.com",
            TalkdeskRegion::Eu => "talkdeskid.eu",
            TalkdeskRegion::Ca => "talkdeskidca.com",
        };
        let url = format!("https://{label}.{domain}/oauth/token");
        base_url::parse(&url)?;
        Ok(url)
    }
}

impl fmt::Display for TalkdeskRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TalkdeskRegion {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TalkdeskRegion::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s.trim())).ok_or(UnknownRegion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_region_has_its_hosts() {
        let urls: Vec<String> = TalkdeskRegion::ALL.iter().map(|r| r.token_url("Acme").unwrap()).collect();
        assert_eq!(
            urls,
            [
                "https://acme.talkdeskid.com/oauth/token",
                "https://acme.talkdeskid.eu/oauth/token",
                "https://acme.talkdeskidca.com/oauth/token",
            ]
        );
        assert_eq!(TalkdeskRegion::default().api_base_url(), "https://api.talkdeskapp.com");
        assert_eq!("EU".parse::<TalkdeskRegion>(), Ok(TalkdeskRegion::Eu));
        assert!("mars".parse::<TalkdeskRegion>().is_err());
    }

    #[test]
    fn an_account_cannot_leave_the_identity_domain() {
        for account in ["", "evil.com/x", "a.b", "acme@evil.com", "-acme", "acme:443", "a b", &"x".repeat(64)] {
            assert!(TalkdeskRegion::Us.token_url(account).is_err(), "{account:?}");
        }
    }
}
