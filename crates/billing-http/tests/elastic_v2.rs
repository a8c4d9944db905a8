//! Elastic v2 over real HTTP against billing-sim: instances, items and charts, checked against the
//! dataset, against each other and against v1; and the query strings each request pins.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use billing_http::{ElasticBillingV2, ElasticCredentials, Transport, TransportConfig};
use billing_model::{Bucketing, InstanceType, InstanceTypeFilter, ServerlessGroupBy};
use billing_sim::endpoints as sim_endpoints;
use common::{assert_close, clients, demo_key, range, sim};

#[tokio::test]
async fn instances_are_deployments_and_projects_with_names_on_request() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let r = range((2025, 5, 1), (2025, 6, 1));

    let unnamed = c.v2.instances(&creds, &org.id, r).send().await.unwrap();
    let named = c.v2.instances(&creds, &org.id, r).include_names(true).send().await.unwrap();
    let v1 = c.v1.deployments(&creds, &org.id).range(r).send().await.unwrap();

    // The same instances either way; only project names differ.
    let ids = |costs: &billing_model::elastic::v2::InstancesCosts| {
        costs.instances().iter().map(|i| i.id.to_string()).collect::<BTreeSet<_>>()
    };
    assert_eq!(ids(&unnamed), ids(&named));
    let deployments: BTreeSet<_> = v1.deployments.iter().map(|d| d.deployment_id.to_string()).collect();
    let projects: BTreeSet<_> = org.projects.iter().map(|p| p.id.to_string()).collect();
    assert!(!projects.is_empty());
    assert_eq!(ids(&named), deployments.union(&projects).cloned().collect(), "v1's deployments and the projects");

    for (plain, with_names) in unnamed.instances().iter().zip(named.instances()) {
        assert_eq!(plain.id, with_names.id);
        if plain.kind == InstanceType::Deployment {
            let d = org.deployment(plain.id.as_str()).unwrap();
            assert_eq!((plain.name.as_str(), with_names.name.as_str()), (d.name.as_str(), d.name.as_str()));
        } else {
            let p = org.project(plain.id.as_str()).unwrap();
            assert_eq!(plain.kind, p.kind);
            assert_eq!(plain.name, "", "project names need include_names");
            assert_eq!(with_names.name, p.name);
        }
        let lines: f64 = plain.product_line_items.iter().map(|l| l.total_ecu).sum();
        assert_close(plain.total_ecu, lines, 1e-3, "an instance is the sum of its lines");
    }
    let sum: f64 = named.instances().iter().map(|i| i.total_ecu).sum();
    assert_close(named.total_ecu, sum, 1e-3, "total_ecu is the sum of the instances");

    // v2 rounds each line to 4 decimals; otherwise a deployment costs what v1 says.
    for d in &v1.deployments {
        let i = named.instances().iter().find(|i| i.id.as_str() == d.deployment_id.as_str()).unwrap();
        assert_close(i.total_ecu, d.costs.total, 1e-3, "v2 and v1 agree");
    }

    let queries: Vec<_> = sim.requests().into_iter().filter(|q| q.template == sim_endpoints::V2_INSTANCES).collect();
    assert!(!queries[0].query.as_deref().unwrap().contains("include_names"));
    assert!(queries[1].query.as_deref().unwrap().ends_with("&include_names=true"));
}

#[tokio::test]
async fn instance_items_match_the_instance() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let r = range((2025, 5, 1), (2025, 6, 1));
    let instances = c.v2.instances(&creds, &org.id, r).include_names(true).send().await.unwrap();

    let deployment = instances.instances().iter().find(|i| i.kind == InstanceType::Deployment).unwrap();
    let project = instances.instances().iter().find(|i| i.kind != InstanceType::Deployment).unwrap();
    for instance in [deployment, project] {
        let items = c.v2.instance_items(&creds, &org.id, &instance.id, r).send().await.unwrap();
        assert_close(items.total_ecu, instance.total_ecu, 1e-9, instance.id.as_str());
        let [product] = items.products() else { panic!("one product: {items:?}") };
        assert_eq!(product.kind, instance.kind.as_str());
        let skus: Vec<_> = product.product_line_items.iter().map(|l| &l.sku).collect();
        let expected: Vec<_> = instance.product_line_items.iter().map(|l| &l.sku).collect();
        assert_eq!(skus, expected);
    }
}

#[tokio::test]
async fn items_group_serverless_by_product_or_by_family() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let r = range((2025, 5, 1), (2025, 6, 1));

    let instances = c.v2.instances(&creds, &org.id, r).send().await.unwrap();
    let by_product =
        c.v2.items(&creds, &org.id, r).serverless_group_by(ServerlessGroupBy::Product).send().await.unwrap();
    let by_family =
        c.v2.items(&creds, &org.id, r).serverless_group_by(ServerlessGroupBy::ProductFamily).send().await.unwrap();
    let default = c.v2.items(&creds, &org.id, r).send().await.unwrap();

    let kinds = |items: &billing_model::elastic::v2::ItemsCosts| {
        items.products().iter().map(|p| p.kind.clone()).collect::<BTreeSet<_>>()
    };
    let mut expected: BTreeSet<_> = org.projects.iter().map(|p| p.kind.to_string()).collect();
    expected.insert("deployment".to_owned());
    assert_eq!(kinds(&by_product), expected);
    assert_eq!(kinds(&by_family), BTreeSet::from(["deployment".to_owned(), "serverless".to_owned()]));
    assert_eq!(default, by_product, "product is the default grouping");

    // Same money, grouped differently (merged lines are re-rounded, hence the tolerance).
    assert_close(by_product.total_ecu, instances.total_ecu, 0.01, "by product");
    assert_close(by_family.total_ecu, instances.total_ecu, 0.01, "by family");
    let serverless: f64 = by_product.products().iter().filter(|p| p.kind != "deployment").map(|p| p.total_ecu).sum();
    let family = by_family.products().iter().find(|p| p.kind == "serverless").unwrap();
    assert_close(family.total_ecu, serverless, 0.01, "the serverless family");

    let sent: Vec<_> = sim.requests().into_iter().filter_map(|q| q.query).collect();
    assert!(sent[1].ends_with("&serverless_group_by=product"), "{}", sent[1]);
    assert!(sent[2].ends_with("&serverless_group_by=product_family"), "{}", sent[2]);
}

#[tokio::test]
async fn charts_filter_by_instance_type_and_add_up_to_the_instances() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let may = range((2025, 5, 1), (2025, 6, 1));

    let instances = c.v2.instances(&creds, &org.id, may).send().await.unwrap();
    let chart = |filter: InstanceTypeFilter, bucketing: Bucketing| {
        c.v2.charts(&creds, &org.id, may).bucketing(bucketing).instance_type(filter).send()
    };
    let all = chart(InstanceTypeFilter::All, Bucketing::Daily).await.unwrap();
    let deployments = chart(InstanceTypeFilter::Deployments, Bucketing::Daily).await.unwrap();
    let projects = chart(InstanceTypeFilter::Projects, Bucketing::Monthly).await.unwrap();

    assert_eq!(all.data.len(), 31);
    assert_eq!(projects.data.len(), 1, "one month");
    assert!(deployments.data.iter().flat_map(|p| &p.values).all(|v| v.kind.as_deref() == Some("deployment")));
    assert!(deployments.data.iter().flat_map(|p| &p.values).all(|v| org.deployment(&v.id).is_some()));
    let project_ids: BTreeSet<_> = projects.data.iter().flat_map(|p| &p.values).map(|v| v.id.as_str()).collect();
    let expected: BTreeSet<_> = org.projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(project_ids, expected);

    // Each instance's chart values over the month add up to its cost.
    let mut per_instance: BTreeMap<&str, f64> = BTreeMap::new();
    for v in all.data.iter().flat_map(|p| &p.values) {
        *per_instance.entry(v.id.as_str()).or_default() += v.value;
    }
    assert_eq!(per_instance.len(), instances.instances().len());
    for i in instances.instances() {
        assert_close(per_instance[i.id.as_str()], i.total_ecu, 0.01, i.id.as_str());
    }
    let sum = |chart: &billing_model::ChartItems| chart.data.iter().map(|p| p.total()).sum::<f64>();
    assert_close(sum(&all), sum(&deployments) + sum(&projects), 1e-6 * sum(&all), "all = deployments + projects");

    let sent: Vec<_> = sim.requests().into_iter().filter_map(|q| q.query).collect();
    assert!(sent[1].ends_with("&bucketing_strategy=daily&instance_type=all"), "{}", sent[1]);
    assert!(sent[3].ends_with("&bucketing_strategy=monthly&instance_type=projects"), "{}", sent[3]);
}

#[tokio::test]
async fn instance_charts_add_up_to_the_instance() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let r = range((2025, 4, 1), (2025, 6, 1));
    let instances = c.v2.instances(&creds, &org.id, r).send().await.unwrap();

    for kind in [InstanceType::Deployment, InstanceType::Observability] {
        let instance = instances.instances().iter().find(|i| i.kind == kind).expect("the demo org has one");
        let chart =
            c.v2.instance_charts(&creds, &org.id, &instance.id, r).bucketing(Bucketing::Monthly).send().await.unwrap();
        assert_eq!(chart.data.len(), 2, "April and May");
        let total: f64 = chart.data.iter().map(|p| p.total()).sum();
        assert_close(total, instance.total_ecu, 0.01, instance.id.as_str());
        // One value per line type, named like the instance's line items.
        let types: BTreeSet<_> = chart.data[0].values.iter().map(|v| v.id.clone()).collect();
        let lines: BTreeSet<_> = instance.product_line_items.iter().map(|l| l.kind.to_string()).collect();
        assert_eq!(types, lines);
    }
}

#[tokio::test]
async fn an_organization_without_instances_reads_as_empty() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = &sim.dataset().empty_org().id;
    let r = range((2025, 5, 1), (2025, 6, 1));

    let instances = c.v2.instances(&creds, org, r).send().await.unwrap();
    assert_eq!(instances.instances, None, "the upstream sends null");
    assert!(instances.instances().is_empty());
    assert_eq!(instances.total_ecu, 0.0);
    let items = c.v2.items(&creds, org, r).send().await.unwrap();
    assert!(items.products().is_empty());
    let chart = c.v2.charts(&creds, org, r).send().await.unwrap();
    assert!(chart.data.iter().all(|p| p.values.is_empty()));
}

#[test]
fn requests_pin_their_query_strings() {
    let v2 = ElasticBillingV2::new(Transport::new(TransportConfig::default()).unwrap(), "http://127.0.0.1:1/api/v2")
        .unwrap();
    let creds = ElasticCredentials::api_key("k").unwrap();
    let org = "42".into();
    let r = range((2025, 1, 1), (2025, 2, 1));
    const RANGE: &str = "from=2025-01-01T00%3A00%3A00Z&to=2025-02-01T00%3A00%3A00Z";

    assert_eq!(v2.instances(&creds, &org, r).query_string(), RANGE, "the range is always sent");
    assert_eq!(
        v2.instances(&creds, &org, r).include_names(false).include_names(true).query_string(),
        format!("{RANGE}&include_names=true"),
        "a repeated option replaces the earlier one"
    );
    assert_eq!(v2.instance_items(&creds, &org, &"abc".into(), r).query_string(), RANGE);
    assert_eq!(
        v2.items(&creds, &org, r).serverless_group_by(ServerlessGroupBy::ProductFamily).query_string(),
        format!("{RANGE}&serverless_group_by=product_family")
    );
    assert_eq!(
        v2.charts(&creds, &org, r)
            .instance_type(InstanceTypeFilter::Deployments)
            .bucketing(Bucketing::Monthly)
            .query_string(),
        format!("{RANGE}&instance_type=deployments&bucketing_strategy=monthly")
    );
    let request = v2.instance_charts(&creds, &org, &"abc".into(), r).bucketing(Bucketing::Daily);
    assert_eq!(request.query_string(), format!("{RANGE}&bucketing_strategy=daily"));
    assert_eq!(request.endpoint(), billing_http::endpoints::V2_INSTANCE_CHARTS);
}
