//! `Transport::with_injector`: every attempt's request carries the headers the injector adds
//! (how a server propagates its trace context), the call's own `Authorization` cannot be
//! replaced by it, and without an injector nothing is added.

// Test helpers fail the test that calls them, as the tests themselves do.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use billing_http::{ElasticBillingV1, InjectHeaders, Transport};
use billing_sim::{Fault, endpoints as sim_endpoints};
use common::{config, demo_key, sim};

/// Stamps each attempt with a trace context of its own, and tries to replace the credential.
#[derive(Default)]
struct Stamp(AtomicU32);

impl InjectHeaders for Stamp {
    fn inject(&self, headers: &mut http::HeaderMap) {
        let attempt = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        let parent = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{attempt:016x}-01");
        headers.insert("traceparent", parent.parse().unwrap());
        headers.insert(http::header::AUTHORIZATION, "ApiKey not-the-caller-s".parse().unwrap());
    }
}

#[tokio::test]
async fn each_attempt_carries_the_injected_headers_and_the_caller_s_credential() {
    let sim = sim().await;
    let stamp = Arc::new(Stamp::default());
    let transport = Transport::with_injector(config(), Some(stamp.clone())).unwrap();
    let v1 = ElasticBillingV1::new(transport, &sim.elastic_v1_url()).unwrap();
    let org = &sim.dataset().demo_org().id;
    sim.push_faults(Some(sim_endpoints::V1_DEPLOYMENTS), [Fault::Status { status: 503, retry_after: None }]);

    v1.deployments(&demo_key(&sim), org).send().await.unwrap();

    let requests = sim.requests();
    let parents: Vec<Option<&str>> = requests.iter().map(|r| r.traceparent.as_deref()).collect();
    assert_eq!(
        parents,
        [
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000001-01"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000002-01")
        ],
        "one injection per attempt, the retry's included"
    );
    let key = format!("ApiKey {}", sim.dataset().credentials().elastic_demo_key);
    for request in &requests {
        assert_eq!(request.authorization.as_deref(), Some(key.as_str()), "the injector cannot replace it");
    }
}

#[tokio::test]
async fn without_an_injector_nothing_is_added() {
    let sim = sim().await;
    let v1 = ElasticBillingV1::new(Transport::new(config()).unwrap(), &sim.elastic_v1_url()).unwrap();
    v1.deployments(&demo_key(&sim), &sim.dataset().demo_org().id).send().await.unwrap();
    assert!(sim.requests().iter().all(|r| r.traceparent.is_none()));
}
