//! `GET /express/usage/month`: monthly usage aggregates, one page or every page.

use billing_model::talkdesk::{Filter, MAX_FILTER_LEN, MAX_PER_PAGE, UsageAggregate, UsageOrder, UsagePage};
use futures::{Stream, TryStreamExt, stream};
use url::Url;

use super::TalkdeskBillingInsights;
use crate::credentials::TalkdeskAuth;
use crate::endpoint::endpoints;
use crate::error::{Error, ErrorKind};
use crate::transport::{Call, join};

impl TalkdeskBillingInsights {
    /// `GET /express/usage/month`: the usage of the accounts under the token's organization.
    ///
    /// `auth` is a [`TalkdeskToken`](crate::TalkdeskToken), or a
    /// [`TalkdeskTokenSource`](crate::TalkdeskTokenSource) whose token is renewed, and the call
    /// retried once, when the API answers 401.
    ///
    /// ```no_run
    /// # async fn run(td: billing_http::TalkdeskBillingInsights, token: billing_http::TalkdeskToken) -> Result<(), billing_http::Error> {
    /// use billing_model::talkdesk::Filter;
    /// let filter = Filter::account(&"5ea75fe7aa224700012eae40".into());
    /// let page = td.usage(&token).filter(filter).per_page(250).send().await?;
    /// println!("{} of {:?}", page.usage().len(), page.total);
    /// # Ok(()) }
    /// ```
    pub fn usage(&self, auth: impl Into<TalkdeskAuth>) -> UsageRequest<'_> {
        UsageRequest { client: self, auth: auth.into(), page: None, per_page: None, filter: None, order_by: None }
    }
}

/// A usage request: paging, a typed filter and an order, then one page or all of them.
#[must_use = "a request does nothing until it is sent"]
#[derive(Debug)]
pub struct UsageRequest<'a> {
    client: &'a TalkdeskBillingInsights,
    auth: TalkdeskAuth,
    page: Option<u32>,
    per_page: Option<u32>,
    filter: Option<Filter>,
    order_by: Option<UsageOrder>,
}

impl<'a> UsageRequest<'a> {
    /// The page to fetch, from 1.
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// Results per page, 1 to 250.
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page);
        self
    }

    /// A typed filter; values are quoted by [`Filter`]'s `Display`, never concatenated raw.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// `id:asc` or `id:desc` (the API's default).
    pub fn order_by(mut self, order: UsageOrder) -> Self {
        self.order_by = Some(order);
        self
    }

    /// The query string this request sends.
    pub fn query_string(&self) -> Result<String, Error> {
        Ok(self.url()?.query().unwrap_or_default().to_owned())
    }

    fn url(&self) -> Result<Url, Error> {
        let invalid = |msg: &str| Error::new(ErrorKind::Build, endpoints::TALKDESK_USAGE).with_message(msg);
        let mut url = join(&self.client.base, &["express", "usage", "month"]).map_err(invalid)?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(page) = self.page {
                if page == 0 {
                    return Err(invalid("page starts at 1"));
                }
                q.append_pair("page", &page.to_string());
            }
            if let Some(per_page) = self.per_page {
                if !(1..=MAX_PER_PAGE).contains(&per_page) {
                    return Err(invalid("per_page must be 1 to 250"));
                }
                q.append_pair("per_page", &per_page.to_string());
            }
            if let Some(filter) = &self.filter {
                let text = filter.to_string();
                if text.len() > MAX_FILTER_LEN {
                    return Err(invalid("the filter is longer than 1600 characters"));
                }
                q.append_pair("filter", &text);
            }
            if let Some(order) = self.order_by {
                q.append_pair("order_by", order.as_str());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    /// Fetches the one page asked for.
    pub async fn send(self) -> Result<UsagePage, Error> {
        let url = self.url()?;
        self.client.fetch(&self.auth, url).await
    }

    /// Every page from the one asked for, following `next` links until the last page.
    ///
    /// Stops with an [`ErrorKind::PageLimit`] error after `max_pages` pages when more remain, and
    /// with an [`ErrorKind::Build`] error if a `next` link leaves the upstream's origin: the token
    /// is never sent anywhere but the configured base URL.
    pub fn pages(self, max_pages: usize) -> impl Stream<Item = Result<UsagePage, Error>> + 'a {
        let client = self.client;
        let first = self.url();
        let auth = self.auth;
        stream::try_unfold((Some(first), 0_usize), move |(next, fetched)| {
            let auth = auth.clone();
            async move {
                let Some(url) = next else { return Ok(None) };
                if fetched == max_pages {
                    return Err(Error::new(ErrorKind::PageLimit, endpoints::TALKDESK_USAGE)
                        .with_message(format!("more than {max_pages} pages")));
                }
                let page = client.fetch(&auth, url?).await?;
                let next = page.next().map(|href| client.same_origin(href));
                Ok(Some((page, (next, fetched + 1))))
            }
        })
    }

    /// Every aggregate on every page, in order (see [`pages`](Self::pages)).
    pub fn all(self, max_pages: usize) -> impl Stream<Item = Result<UsageAggregate, Error>> + 'a {
        self.pages(max_pages)
            .map_ok(|page| stream::iter(page.embedded.usage.into_iter().map(Ok::<_, Error>)))
            .try_flatten()
    }
}

impl TalkdeskBillingInsights {
    /// The page a `next` link (`UsagePage::next`) points to. Refused with an
    /// [`ErrorKind::Build`] error, before anything is sent, when the link leaves the upstream's
    /// origin: the token is never sent anywhere but the configured base URL.
    pub async fn usage_page_at(&self, auth: impl Into<TalkdeskAuth>, href: &str) -> Result<UsagePage, Error> {
        let url = self.same_origin(href)?;
        self.fetch(&auth.into(), url).await
    }

    /// One page. With a token source, a 401 renews the token (once for every call that got one
    /// with the same token) and the call is retried once.
    async fn fetch(&self, auth: &TalkdeskAuth, url: Url) -> Result<UsagePage, Error> {
        let call = |auth| Call { endpoint: endpoints::TALKDESK_USAGE, url: url.clone(), auth, form: None };
        match auth {
            TalkdeskAuth::Token(token) => self.transport.send(&call(token.header_value())).await,
            TalkdeskAuth::Source(source) => {
                let issued = source.current().await?;
                match self.transport.send(&call(issued.token.header_value())).await {
                    Err(e) if e.http_status() == Some(401) => {
                        tracing::debug!("talkdesk refused the access token: renewing it and retrying once");
                        let renewed = source.refresh(issued.flight).await?;
                        self.transport.send(&call(renewed.token.header_value())).await
                    }
                    answer => answer,
                }
            }
        }
    }

    /// Resolves a `next` link, refusing one that points away from this client's base URL.
    fn same_origin(&self, href: &str) -> Result<Url, Error> {
        let refuse = || {
            Error::new(ErrorKind::Build, endpoints::TALKDESK_USAGE)
                .with_message("a next link leaves the upstream's origin")
        };
        let url = self.base.join(href).map_err(|_| refuse())?;
        if url.origin() != self.base.origin() || !url.path().starts_with(self.base.path().trim_end_matches('/')) {
            return Err(refuse());
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use billing_model::talkdesk::{Filter, UsageOrder};

    use crate::{TalkdeskBillingInsights, TalkdeskToken, Transport, TransportConfig};

    fn client() -> TalkdeskBillingInsights {
        TalkdeskBillingInsights::new(Transport::new(TransportConfig::default()).unwrap(), "http://127.0.0.1:1").unwrap()
    }

    #[test]
    fn hostile_filter_values_are_quoted_in_the_query() {
        let td = client();
        let token = TalkdeskToken::new("t").unwrap();
        let filter = Filter::account(&"x' or account_id eq 'y".into());
        let q = td.usage(&token).filter(filter).per_page(250).order_by(UsageOrder::IdAsc).query_string().unwrap();
        let decoded: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        assert_eq!(
            decoded,
            [
                ("per_page".into(), "250".into()),
                ("filter".into(), "account_id eq 'x'' or account_id eq ''y'".into()),
                ("order_by".into(), "id:asc".into()),
            ]
        );
    }

    #[test]
    fn paging_bounds_are_checked_before_sending() {
        let td = client();
        let token = TalkdeskToken::new("t").unwrap();
        assert!(td.usage(&token).per_page(0).query_string().is_err());
        assert!(td.usage(&token).per_page(251).query_string().is_err());
        assert!(td.usage(&token).page(0).query_string().is_err());
        assert_eq!(td.usage(&token).query_string().unwrap(), "");
    }

    #[test]
    fn next_links_must_stay_on_the_origin() {
        let td = client();
        assert!(td.same_origin("http://127.0.0.1:1/express/usage/month?page=2").is_ok());
        assert!(td.same_origin("/express/usage/month?page=2").is_ok());
        assert!(td.same_origin("http://evil.example/express/usage/month?page=2").is_err());
        assert!(td.same_origin("http://127.0.0.1:2/express/usage/month?page=2").is_err());
    }
}
