//! Error mapping over real HTTP against billing-sim: every way a call fails becomes the right
//! `ErrorKind`, status, codes, message and endpoint, and its text names the endpoint's template but
//! never the upstream's address nor a credential.

mod common;

use billing_http::{ElasticCredentials, Endpoint, Error, ErrorKind, TalkdeskToken, Upstream, endpoints};
use billing_model::talkdesk::{Field, Filter};
use billing_model::{DateRange, OrganizationId};
use billing_sim::{Fault, SimHandle, endpoints as sim_endpoints};
use chrono::{TimeZone, Utc};
use common::{Clients, assert_error_text, clients, closed_port_url, config, demo_key, other_key, range, sim, td_token};

/// What an error must say.
struct Expect {
    kind: ErrorKind,
    endpoint: Endpoint,
    status: Option<u16>,
    codes: &'static [&'static str],
    /// The upstream's message, when it sent a structured one.
    message: Option<&'static str>,
    retryable: bool,
    attempts: u32,
}

impl Expect {
    fn status(endpoint: Endpoint, status: u16, codes: &'static [&'static str], message: Option<&'static str>) -> Self {
        Expect {
            kind: ErrorKind::Status,
            endpoint,
            status: Some(status),
            codes,
            message,
            retryable: false,
            attempts: 1,
        }
    }
}

/// The single place that checks an error against what it must say.
fn check(sim: &SimHandle, err: &Error, expect: &Expect) {
    let shown = format!("{err} / {err:?}");
    assert_eq!(err.kind(), expect.kind, "{shown}");
    assert_eq!(err.endpoint(), expect.endpoint, "{shown}");
    assert_eq!(err.upstream(), expect.endpoint.upstream, "{shown}");
    assert_eq!(err.http_status(), expect.status, "{shown}");
    assert_eq!(err.codes(), expect.codes, "{shown}");
    assert_eq!(err.code(), expect.codes.first().copied(), "{shown}");
    if let Some(m) = expect.message {
        assert_eq!(err.message(), Some(m), "{shown}");
    }
    assert_eq!(err.is_retryable(), expect.retryable, "{shown}");
    assert_eq!(err.is_rate_limited(), expect.status == Some(429), "{shown}");
    assert_eq!(err.attempts(), expect.attempts, "{shown}");
    if let Some(status) = expect.status {
        assert!(err.to_string().contains(&format!("upstream answered {status}")), "{err}");
    }
    let creds = sim.dataset().credentials();
    let secrets = [
        creds.elastic_demo_key.as_str(),
        creds.elastic_other_key.as_str(),
        creds.talkdesk_token.as_str(),
        "unknown-key-1f3a",
    ];
    assert_error_text(err, &sim.addr().to_string(), &secrets);
}

fn org(sim: &SimHandle) -> OrganizationId {
    sim.dataset().demo_org().id.clone()
}

#[tokio::test]
async fn unknown_credentials_are_401_in_each_upstream_s_shape() {
    let sim = sim().await;
    let c = clients(&sim);
    let unknown = ElasticCredentials::api_key("unknown-key-1f3a").unwrap();
    let r = range((2025, 5, 1), (2025, 6, 1));

    let err = c.v1.overview(&unknown, &org(&sim)).send().await.unwrap_err();
    let expect = Expect::status(
        endpoints::V1_OVERVIEW,
        401,
        &["root.unauthenticated"],
        Some("The supplied authentication is invalid."),
    );
    check(&sim, &err, &expect);

    // v2 answers a text/plain "Unauthorized": no code, no message.
    let err = c.v2.instances(&unknown, &org(&sim), r).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::V2_INSTANCES, 401, &[], None));
    assert_eq!(err.message(), None);

    let token = TalkdeskToken::new("unknown-key-1f3a").unwrap();
    let err = c.td.usage(&token).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::TALKDESK_USAGE, 401, &["4010001"], None));
    assert!(err.message().unwrap().starts_with("Unauthorized"), "{err}");

    // An Elastic key is no Talkdesk token.
    let err = c.td.usage(TalkdeskToken::new(&sim.dataset().credentials().elastic_demo_key).unwrap()).send().await;
    assert_eq!(err.unwrap_err().http_status(), Some(401));
    assert_eq!(sim.stats().total(), 4, "no 401 is retried");
}

#[tokio::test]
async fn another_organization_is_403_with_the_v1_code_and_a_bare_v2_status() {
    let sim = sim().await;
    let c = clients(&sim);
    let r = range((2025, 5, 1), (2025, 6, 1));
    let other = &sim.dataset().other_org().id;

    // v1: the code arrives in x-cloud-error-codes and in the body; it is kept once.
    let err = c.v1.deployments(&demo_key(&sim), other).send().await.unwrap_err();
    let expect = Expect::status(
        endpoints::V1_DEPLOYMENTS,
        403,
        &["organization.invalid_access"],
        Some("The current user does not have access to the requested organization."),
    );
    check(&sim, &err, &expect);

    // v2: a text/plain body, neither a code nor echoed as the message.
    let err = c.v2.items(&other_key(&sim), &org(&sim), r).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::V2_ITEMS, 403, &[], None));
    assert_eq!(err.message(), None);
    let text = format!("{err} {err:?}");
    assert!(!text.contains("billing-costs") && !text.contains("does not have"), "{text}");
}

#[tokio::test]
async fn unknown_organizations_and_deployments_are_404() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let r = range((2025, 5, 1), (2025, 6, 1));
    let nowhere = OrganizationId::new("1000000007");
    assert!(sim.dataset().organization(nowhere.as_str()).is_none());

    let err = c.v1.items(&creds, &nowhere).send().await.unwrap_err();
    check(
        &sim,
        &err,
        &Expect::status(endpoints::V1_ITEMS, 404, &["organization.not_found"], Some("Organization not found.")),
    );

    let err = c.v2.charts(&creds, &nowhere, r).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::V2_CHARTS, 404, &["organization.not_found"], None));

    let err = c.v1.deployment_items(&creds, &org(&sim), &"0123456789abcdef0123456789abcdef".into()).send().await;
    let expect = Expect::status(
        endpoints::V1_DEPLOYMENT_ITEMS,
        404,
        &["billing_service.es_cluster_id_not_found"],
        Some("The Elasticsearch cluster was not found."),
    );
    check(&sim, &err.unwrap_err(), &expect);
}

#[tokio::test]
async fn ranges_the_upstream_refuses_are_400() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);

    // A year past 9999 cannot be written in RFC 3339's four digits; v1 refuses what it cannot read.
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    let err = c.v1.overview(&creds, &org(&sim)).range(DateRange::new(far, far).unwrap()).send().await.unwrap_err();
    let expect = Expect::status(
        endpoints::V1_OVERVIEW,
        400,
        &["costs.invalid_date_range"],
        Some("The specified date range is invalid."),
    );
    check(&sim, &err, &expect);

    // v2 refuses a `from` before 2021-01-01 with its own body shape.
    let old = range((2020, 12, 1), (2021, 2, 1));
    let err = c.v2.instances(&creds, &org(&sim), old).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::V2_INSTANCES, 400, &["invalid_input"], None));
    assert!(err.message().unwrap().starts_with("An error occurred with input"), "{err}");

    // Talkdesk refuses a month that is not YYYY-MM, naming the field.
    let bad = Filter::Eq(Field::Month, "2025-13".into());
    let err = c.td.usage(td_token(&sim)).filter(bad).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::TALKDESK_USAGE, 400, &["4000001"], None));
    assert!(err.message().unwrap().contains("(filter: "), "{err}");
    assert_eq!(sim.stats().total(), 3, "no 400 is retried");
}

#[tokio::test]
async fn server_errors_are_500_and_not_retried() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let r = range((2025, 5, 1), (2025, 6, 1));
    sim.push_faults(None, [Fault::server_error(), Fault::server_error(), Fault::server_error()]);

    let err = c.v1.deployments(&creds, &org(&sim)).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::V1_DEPLOYMENTS, 500, &["billing_service.failed_request"], None));
    let err = c.v2.instances(&creds, &org(&sim), r).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::V2_INSTANCES, 500, &["internal_server_error"], None));
    let err = c.td.usage(td_token(&sim)).send().await.unwrap_err();
    check(&sim, &err, &Expect::status(endpoints::TALKDESK_USAGE, 500, &["5000001"], None));
    assert_eq!(sim.stats().total(), 3, "one request each");
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_naming_the_field_path() {
    let sim = sim().await;
    let c = clients(&sim);
    sim.push_faults(Some(sim_endpoints::V1_DEPLOYMENTS), [Fault::Malformed]);
    sim.push_faults(Some(sim_endpoints::TALKDESK_USAGE), [Fault::Malformed]);

    let err = c.v1.deployments(&demo_key(&sim), &org(&sim)).send().await.unwrap_err();
    let decode = |endpoint| Expect {
        kind: ErrorKind::Decode,
        endpoint,
        status: None,
        codes: &[],
        message: None,
        retryable: false,
        attempts: 1,
    };
    check(&sim, &err, &decode(endpoints::V1_DEPLOYMENTS));
    // The body is cut in half, inside the list of deployments.
    let message = err.message().unwrap();
    assert!(message.starts_with("at deployments["), "{message}");
    assert!(err.to_string().contains("could not decode the response: at deployments["), "{err}");

    let err = c.td.usage(td_token(&sim)).per_page(50).send().await.unwrap_err();
    check(&sim, &err, &decode(endpoints::TALKDESK_USAGE));
    assert!(err.message().unwrap().starts_with("at _embedded.usage["), "{err}");
    assert_eq!(sim.stats().total(), 2, "a decode error is not retried");
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_connect_error() {
    let sim = sim().await;
    let url = closed_port_url();
    let transport = billing_http::Transport::new(config()).unwrap();
    let v1 = billing_http::ElasticBillingV1::new(transport.clone(), &format!("{url}/api/v1")).unwrap();
    let td = billing_http::TalkdeskBillingInsights::new(transport, &url).unwrap();

    let err = v1.overview(&demo_key(&sim), &org(&sim)).send().await.unwrap_err();
    let expect = Expect {
        kind: ErrorKind::Connect,
        endpoint: endpoints::V1_OVERVIEW,
        status: None,
        codes: &[],
        message: None,
        retryable: true,
        attempts: config().retry.max_attempts,
    };
    check(&sim, &err, &expect);
    let port = url.rsplit(':').next().unwrap();
    assert!(!err.to_string().contains(port), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "the cause is kept as the source");

    let err = td.usage(td_token(&sim)).send().await.unwrap_err();
    check(&sim, &err, &Expect { endpoint: endpoints::TALKDESK_USAGE, ..expect });
    assert_eq!(err.upstream(), Upstream::Talkdesk);
}

#[tokio::test]
async fn an_error_does_not_poison_the_transport() {
    let sim = sim().await;
    let Clients { v1, .. } = clients(&sim);
    sim.push_faults(None, [Fault::server_error()]);
    assert!(v1.overview(&demo_key(&sim), &org(&sim)).send().await.is_err());
    assert!(v1.overview(&demo_key(&sim), &org(&sim)).send().await.is_ok());
}
