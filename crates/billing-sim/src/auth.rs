//! Who is calling: Elastic API keys (`ApiKey` or `Bearer`) and Talkdesk bearer tokens.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::dataset::{Dataset, Organization, TalkdeskOrganization};

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

/// The Talkdesk organization a request's bearer token reads.
pub(crate) fn talkdesk<'a>(ds: &'a Dataset, headers: &HeaderMap) -> Option<&'a TalkdeskOrganization> {
    credential(headers, &["Bearer"]).and_then(|token| ds.talkdesk_for(token))
}
