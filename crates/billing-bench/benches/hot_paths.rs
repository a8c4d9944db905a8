//! Criterion micro-benchmarks of the hot paths the load profile shows: upstream payload parsing,
//! GraphQL execution over a warm cache (resolvers, loader dispatch, response ordering), and
//! response serialization. Payloads come from the simulator, so they have the real shapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use billing_graphql::{BillingGraph, Credentials, SchemaConfig, Upstreams};
use billing_http::{ElasticBillingV1, ElasticBillingV2, Limit, TalkdeskBillingInsights, Transport, TransportConfig};
use billing_model::elastic::{v1, v2};
use billing_model::{ChartItems, DateRange, Month};
use billing_sim::{Scale, SimConfig, SimHandle};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    sim: SimHandle,
    range: DateRange,
}

fn fixture(deployments: usize) -> Fixture {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config =
        SimConfig { scale: Scale { big_org_deployments: deployments, ..Scale::default() }, ..SimConfig::default() };
    let sim = runtime.block_on(billing_sim::spawn(config)).unwrap();
    Fixture { runtime, sim, range: DateRange::month(Month::of(chrono::Utc::now()).pred()) }
}

impl Fixture {
    /// The raw JSON of one upstream GET.
    fn raw(&self, url: String) -> Vec<u8> {
        let key = &self.sim.dataset().credentials().elastic_demo_key;
        self.runtime.block_on(async {
            #[allow(clippy::disallowed_methods, reason = "a client of the simulator for the bench")]
            let client = reqwest::Client::builder().build().unwrap();
            let r = client.get(url).header("authorization", format!("ApiKey {key}")).send().await.unwrap();
            r.bytes().await.unwrap().to_vec()
        })
    }

    fn query(&self) -> String {
        format!("from={}&to={}", self.range.from_param(), self.range.to_param())
    }

    fn graph(&self) -> BillingGraph {
        let t = Transport::new(TransportConfig::default().with_limits(Limit::unlimited(64))).unwrap();
        let upstreams = Upstreams {
            elastic_v1: ElasticBillingV1::new(t.clone(), &self.sim.elastic_v1_url()).unwrap(),
            elastic_v2: ElasticBillingV2::new(t.clone(), &self.sim.elastic_v2_url()).unwrap(),
            talkdesk: TalkdeskBillingInsights::new(t, &self.sim.talkdesk_url()).unwrap(),
        };
        let mut config = SchemaConfig::default();
        config.limits.upstream_calls = 5000;
        config.limits.complexity = 1_000_000;
        BillingGraph::new(upstreams, config)
    }

    fn credentials(&self) -> Credentials {
        let key = &self.sim.dataset().credentials().elastic_demo_key;
        Credentials::none().with_elastic_header(Some(&format!("ApiKey {key}")))
    }

    fn dashboard(&self) -> async_graphql::Request {
        let org = &self.sim.dataset().big_org().id;
        let q = format!(
            r#"{{ organization(id: "{org}") {{ deployments(from: "{}", to: "{}") {{ id name totalCost
                dimensions {{ type cost }} charts(bucketing: DAILY) {{ points {{ timestamp total }} }}
                lineItems {{ name sku type quantity rate totalEcu }} }} }} }}"#,
            self.range.from().to_rfc3339(),
            self.range.to().to_rfc3339()
        );
        async_graphql::Request::new(q)
    }
}

fn parsing(c: &mut Criterion) {
    let f = fixture(100);
    let org = f.sim.dataset().big_org();
    let v1 = f.sim.elastic_v1_url();
    let v2 = f.sim.elastic_v2_url();
    let deployment = &org.deployments[0].id;
    let payloads = [
        ("v1 deployments (100)", f.raw(format!("{v1}/billing/costs/{}/deployments?{}", org.id, f.query()))),
        (
            "v1 deployment charts",
            f.raw(format!(
                "{v1}/billing/costs/{}/deployments/{deployment}/charts?{}&bucketing_strategy=daily",
                org.id,
                f.query()
            )),
        ),
        (
            "v2 instances (100)",
            f.raw(format!("{v2}/billing/organizations/{}/costs/instances?{}&include_names=true", org.id, f.query())),
        ),
    ];
    let mut group = c.benchmark_group("parse");
    for (name, bytes) in &payloads {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), bytes, |b, bytes| match *name {
            "v1 deployments (100)" => {
                b.iter(|| serde_json::from_slice::<v1::DeploymentsCosts>(black_box(bytes)).unwrap())
            }
            "v1 deployment charts" => b.iter(|| serde_json::from_slice::<ChartItems>(black_box(bytes)).unwrap()),
            _ => b.iter(|| serde_json::from_slice::<v2::InstancesCosts>(black_box(bytes)).unwrap()),
        });
    }
    group.finish();
}

fn execution(c: &mut Criterion) {
    let mut group = c.benchmark_group("dashboard on a warm cache");
    group.sample_size(20);
    for deployments in [10, 100, 1000, 3000] {
        let f = fixture(deployments);
        let graph = f.graph();
        // Fill the cache once; every iteration below then resolves without upstream calls.
        let warm = f.runtime.block_on(graph.execute(f.dashboard(), f.credentials()));
        assert!(warm.errors.is_empty(), "{:?}", warm.errors);
        group.throughput(Throughput::Elements(deployments as u64));
        group.bench_function(BenchmarkId::new("execute", deployments), |b| {
            b.to_async(&f.runtime).iter(|| graph.execute(f.dashboard(), f.credentials()));
        });
        group.bench_function(BenchmarkId::new("serialize", deployments), |b| {
            b.iter(|| serde_json::to_vec(black_box(&warm)).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, parsing, execution);
criterion_main!(benches);
