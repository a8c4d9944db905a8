//! Base URLs, checked once when a client is built.

use url::Url;

/// A base URL a client cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid base url: {0}")]
pub struct BaseUrlError(&'static str);

impl BaseUrlError {
    pub(crate) fn new(why: &'static str) -> Self {
        BaseUrlError(why)
    }
}

/// Parses and checks a base URL: http or https, no credentials, no query or fragment.
pub(crate) fn parse(raw: &str) -> Result<Url, BaseUrlError> {
    let url = Url::parse(raw).map_err(|_| BaseUrlError("not a url"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(BaseUrlError("the scheme must be http or https"));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(BaseUrlError("the url has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BaseUrlError("credentials belong in headers, not in the url"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BaseUrlError("the url must not have a query or fragment"));
    }
    Ok(url)
}
