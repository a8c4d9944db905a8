//! The size of an upstream answer as the shared cache stores it (LZ4-compressed JSON) against its
//! plain JSON, on the simulator's answers: `cargo test -p billing-graphql --test shared_codec --
//! --nocapture` prints the table BENCHMARKS.md quotes.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use billing_graphql::shared_codec::{decode, encode};
use billing_model::ChartItems;
use billing_model::elastic::{v1, v2};
use billing_sim::{Scale, SimConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

async fn measure<T: Serialize + DeserializeOwned>(client: &reqwest::Client, key: &str, url: String) -> (usize, usize) {
    let body = client.get(url).header("authorization", format!("ApiKey {key}")).send().await.unwrap();
    assert!(body.status().is_success());
    let value: T = body.json().await.unwrap();
    let json = serde_json::to_vec(&value).unwrap();
    let stored = encode(&value).unwrap();
    // What is read back is what was stored, byte for byte once serialized again.
    assert_eq!(serde_json::to_vec(&decode::<T>(&stored).unwrap()).unwrap(), json);
    (json.len(), stored.len())
}

#[tokio::test]
async fn stored_answers_are_a_fraction_of_their_json() {
    let config = SimConfig { scale: Scale { big_org_deployments: 200, ..Scale::default() }, ..SimConfig::default() };
    let sim = billing_sim::spawn(config).await.unwrap();
    let key = sim.dataset().credentials().elastic_demo_key.clone();
    let org = sim.dataset().big_org().id.to_string();
    let deployment = sim.dataset().big_org().deployments[0].id.to_string();
    let (v1_url, v2_url) = (sim.elastic_v1_url(), sim.elastic_v2_url());
    let range = "from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z";
    #[allow(clippy::disallowed_methods, reason = "a test's client of the simulator")]
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let rows = [
        (
            "v1 overview",
            measure::<v1::CostsOverview>(&client, &key, format!("{v1_url}/billing/costs/{org}?{range}")).await,
        ),
        (
            "v1 deployments (200)",
            measure::<v1::DeploymentsCosts>(&client, &key, format!("{v1_url}/billing/costs/{org}/deployments?{range}"))
                .await,
        ),
        (
            "v1 deployment items",
            measure::<v1::ItemsCosts>(
                &client,
                &key,
                format!("{v1_url}/billing/costs/{org}/deployments/{deployment}/items?{range}"),
            )
            .await,
        ),
        (
            "v1 charts (daily)",
            measure::<ChartItems>(
                &client,
                &key,
                format!("{v1_url}/billing/costs/{org}/charts?{range}&bucketing_strategy=daily"),
            )
            .await,
        ),
        (
            "v2 instances (200)",
            measure::<v2::InstancesCosts>(
                &client,
                &key,
                format!("{v2_url}/billing/organizations/{org}/costs/instances?{range}"),
            )
            .await,
        ),
    ];
    println!("| answer | JSON bytes | stored bytes | stored / JSON |");
    println!("|---|---:|---:|---:|");
    for (name, (json, stored)) in &rows {
        println!("| {name} | {json} | {stored} | {:.2} |", *stored as f64 / *json as f64);
    }
    // The lists, where the bytes are, shrink to under half.
    for (name, (json, stored)) in &rows[1..] {
        assert!(stored * 2 < *json, "{name}: {stored} of {json}");
    }
    sim.shutdown().await;
}
