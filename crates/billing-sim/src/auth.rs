//! Who is calling: Elastic API keys (`ApiKey` or `Bearer`) and Talkdesk bearer tokens (the
//! dataset's fixed ones, which hold every scope, and those `POST /oauth/token` issued).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::dataset::{Dataset, Organization, TalkdeskOrganization};
use crate::server::Sim;

/// The outcome of checking an Elastic caller against an organization.
#[derive(Debug)]
pub(crate) enum Access<'a> {
    /// The key may read this organization.
    Granted(&'a Organization),
    /// No key, or a key the simulator does not know.
    Unauthenticated,
    /// The organization does not exist.
    NotFound,
    /// The organization exists but the key may not read it.
    Forbidden,
}

/// The credential of an `Authorization` header with one of the given schemes (case-insensitive).
fn credential<'h>(headers: &'h HeaderMap, schemes: &[&str]) -> Option<&'h str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = value.split_once(' ')?;
    schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)).then(|| key.trim())
}

/// Checks an Elastic request: authentication first, then existence, then permission.
pub(crate) fn elastic<'a>(ds: &'a Dataset, headers: &HeaderMap, org_id: &str) -> Access<'a> {
    let Some(readable) = credential(headers, &["ApiKey", "Bearer"]).and_then(|key| ds.elastic_orgs_for(key)) else {
        return Access::Unauthenticated;
    };
    match ds.organization(org_id) {
        None => Access::NotFound,
        Some(org) if readable.contains(&&org.id) => Access::Granted(org),
        Some(_) => Access::Forbidden,
    }
}

/// The outcome of checking a Talkdesk caller's token for a scope.
#[derive(Debug)]
pub(crate) enum TalkdeskAccess<'a> {
    /// The token reads this organization with the scope.
    Granted(&'a TalkdeskOrganization),
    /// No token, or one unknown or expired.
    Unauthenticated,
    /// A valid token without the scope.
    MissingScope,
}

/// Checks a Talkdesk request's bearer token, and that it holds `scope`.
pub(crate) fn talkdesk<'a>(sim: &'a Sim, headers: &HeaderMap, scope: &str) -> TalkdeskAccess<'a> {
    let Some(token) = credential(headers, &["Bearer"]) else { return TalkdeskAccess::Unauthenticated };
    let ds = sim.dataset();
    if let Some(org) = ds.talkdesk_for(token) {
        return TalkdeskAccess::Granted(org);
    }
    match sim.talkdesk_grant(token) {
        None => TalkdeskAccess::Unauthenticated,
        Some(grant) if !grant.allows(scope) => TalkdeskAccess::MissingScope,
        Some(grant) => ds
            .talkdesk_organizations()
            .get(grant.organization)
            .map_or(TalkdeskAccess::Unauthenticated, TalkdeskAccess::Granted),
    }
}
