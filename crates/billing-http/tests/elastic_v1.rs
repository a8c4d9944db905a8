//! Elastic v1 over real HTTP against billing-sim: every client method returns the right typed data,
//! checked against the simulator's dataset and against the other endpoints.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use billing_http::ElasticCredentials;
use billing_model::{Bucketing, DateRange, DimensionType};
use billing_sim::endpoints as sim_endpoints;
use common::{assert_close, clients, demo_key, now, other_key, range, sim};

/// Tolerance for sums of the same values in a different order.
fn tol(total: f64) -> f64 {
    1e-6 * total.abs().max(1.0)
}

#[tokio::test]
async fn overview_matches_the_deployments_and_the_dataset() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = &sim.dataset().demo_org().id;
    let r = range((2025, 3, 1), (2025, 6, 1));

    let overview = c.v1.overview(&creds, org).range(r).send().await.unwrap();
    let deployments = c.v1.deployments(&creds, org).range(r).send().await.unwrap();

    assert!(overview.costs.total > 0.0);
    let dims: f64 = overview.costs.dimensions.iter().map(|d| d.cost).sum();
    assert_close(dims, overview.costs.total, tol(dims), "dimensions add up to the total");
    assert_eq!(overview.costs.dimensions.len(), 6);
    assert!(overview.costs.dimensions.iter().all(|d| d.kind.is_known()), "{:?}", overview.costs.dimensions);

    let sum: f64 = deployments.deployments.iter().map(|d| d.costs.total).sum();
    assert_close(deployments.total_cost, sum, tol(sum), "total_cost is the sum of the deployments");
    assert_close(overview.costs.total, sum, tol(sum), "overview total equals the deployments' sum");

    // Per dimension too.
    for dim in &overview.costs.dimensions {
        let per_deployment: f64 = deployments
            .deployments
            .iter()
            .flat_map(|d| &d.costs.dimensions)
            .filter(|d| d.kind == dim.kind)
            .map(|d| d.cost)
            .sum();
        assert_close(dim.cost, per_deployment, tol(per_deployment), dim.kind.as_str());
    }

    // The demo organization holds prepaid credits; the others do not.
    let balance = overview.balance.expect("the demo organization has a balance");
    assert!(!balance.line_items.is_empty());
    let big = c.v1.overview(&creds, &sim.dataset().big_org().id).range(r).send().await.unwrap();
    assert!(big.balance.is_none());
}

#[tokio::test]
async fn deployments_are_the_dataset_s_with_their_names_and_rates() {
    let sim = sim().await;
    let c = clients(&sim);
    let org = sim.dataset().demo_org();
    let costs = c.v1.deployments(&demo_key(&sim), &org.id).send().await.unwrap();

    let today = now().date_naive();
    let runs_today = |d: &billing_sim::Deployment| d.created <= today && d.deleted.is_none_or(|x| today < x);
    assert!(!costs.deployments.is_empty());
    let mut seen = BTreeSet::new();
    for d in &costs.deployments {
        assert!(seen.insert(d.deployment_id.clone()), "listed twice: {}", d.deployment_id);
        let known = org.deployment(d.deployment_id.as_str()).expect("a deployment of the dataset");
        assert_eq!(d.deployment_name, known.name);
        let expected_rate = if runs_today(known) { known.hourly_rate() } else { 0.0 };
        assert_close(d.hourly_rate, expected_rate, 1e-9, "hourly rate");
        let dims: f64 = d.costs.dimensions.iter().map(|x| x.cost).sum();
        assert_close(dims, d.costs.total, tol(dims), "a deployment's dimensions add up");
        assert!(d.period.is_some());
    }
    // Every deployment running today shows up in the month to date.
    let running: BTreeSet<_> = org.deployments.iter().filter(|d| runs_today(d)).map(|d| d.id.clone()).collect();
    assert!(running.is_subset(&seen));

    // The overview's hourly rate is that of the deployments running now.
    let overview = c.v1.overview(&demo_key(&sim), &org.id).send().await.unwrap();
    let rate: f64 = org.deployments.iter().filter(|d| runs_today(d)).map(|d| d.hourly_rate()).sum();
    assert_close(overview.hourly_rate, rate, 1e-6, "overview hourly rate");
}

#[tokio::test]
async fn no_range_means_month_to_date() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = &sim.dataset().demo_org().id;

    let implicit = c.v1.overview(&creds, org).send().await.unwrap();
    let explicit = c.v1.overview(&creds, org).range(DateRange::month_to_date(now())).send().await.unwrap();
    assert_eq!(implicit.costs, explicit.costs);

    let queries: Vec<_> = sim.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(queries[0], None, "no range, no query string");
    assert_eq!(queries[1].as_deref(), Some("from=2025-06-01T00%3A00%3A00Z&to=2025-06-17T13%3A30%3A00Z"));
}

#[tokio::test]
async fn charts_add_up_to_the_overview_in_both_bucketings() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let r = range((2025, 3, 1), (2025, 6, 1));

    let total = c.v1.overview(&creds, &org.id).range(r).send().await.unwrap().costs.total;
    let daily = c.v1.charts(&creds, &org.id).range(r).bucketing(Bucketing::Daily).send().await.unwrap();
    let monthly = c.v1.charts(&creds, &org.id).range(r).bucketing(Bucketing::Monthly).send().await.unwrap();

    assert_eq!(daily.data.len(), 31 + 30 + 31, "one point per day");
    assert_eq!(daily.data[0].timestamp, r.from());
    assert!(daily.data.windows(2).all(|w| (w[1].timestamp - w[0].timestamp).num_days() == 1));
    let months: Vec<_> = monthly.data.iter().map(|p| p.timestamp).collect();
    assert_eq!(months, [common::day(2025, 3, 1), common::day(2025, 4, 1), common::day(2025, 5, 1)]);

    let daily_sum: f64 = daily.data.iter().map(|p| p.total()).sum();
    let monthly_sum: f64 = monthly.data.iter().map(|p| p.total()).sum();
    assert_close(daily_sum, total, tol(total), "daily points add up to the overview");
    assert_close(monthly_sum, total, tol(total), "monthly points add up to the overview");

    // April alone, asked of the overview, is the April point.
    let april = c.v1.overview(&creds, &org.id).range(range((2025, 4, 1), (2025, 5, 1))).send().await.unwrap();
    assert_close(monthly.data[1].total(), april.costs.total, tol(april.costs.total), "the April point");

    for value in daily.data.iter().flat_map(|p| &p.values) {
        let d = org.deployment(&value.id).expect("chart values name deployments of the organization");
        assert_eq!(value.name, d.name);
    }
    let sent: Vec<_> = sim.requests().into_iter().filter(|q| q.template == sim_endpoints::V1_CHARTS).collect();
    assert!(sent[0].query.as_deref().unwrap().ends_with("&bucketing_strategy=daily"), "{:?}", sent[0].query);
    assert!(sent[1].query.as_deref().unwrap().ends_with("&bucketing_strategy=monthly"), "{:?}", sent[1].query);
}

#[tokio::test]
async fn one_deployment_s_charts_and_items_match_its_costs() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let r = range((2025, 4, 1), (2025, 6, 1));

    let costs = c.v1.deployments(&creds, &org.id).range(r).send().await.unwrap();
    let mine = costs.deployments.iter().max_by(|a, b| a.costs.total.total_cmp(&b.costs.total)).unwrap();
    let known = org.deployment(mine.deployment_id.as_str()).unwrap();

    // Charts: one value per dimension per month; each dimension's sum is the deployment's.
    let chart =
        c.v1.deployment_charts(&creds, &org.id, &mine.deployment_id)
            .range(r)
            .bucketing(Bucketing::Monthly)
            .send()
            .await
            .unwrap();
    assert_eq!(chart.data.len(), 2);
    let mut by_dim: BTreeMap<String, f64> = BTreeMap::new();
    for v in chart.data.iter().flat_map(|p| &p.values) {
        *by_dim.entry(v.id.clone()).or_default() += v.value;
    }
    assert_eq!(by_dim.len(), 6);
    for dim in &mine.costs.dimensions {
        assert_close(by_dim[dim.kind.as_str()], dim.cost, tol(dim.cost), dim.kind.as_str());
    }

    // Items: the same total, the dataset's resources, capacity from their prices.
    let items = c.v1.deployment_items(&creds, &org.id, &mine.deployment_id).range(r).send().await.unwrap();
    assert_close(items.costs.total, mine.costs.total, tol(mine.costs.total), "items total");
    let skus: BTreeSet<_> = items.resources.iter().map(|i| i.sku.as_str()).collect();
    let expected: BTreeSet<_> = known.resources.iter().map(|i| i.sku.as_str()).collect();
    assert_eq!(skus, expected);
    for item in &items.resources {
        let res = known.resources.iter().find(|x| x.sku == item.sku).unwrap();
        assert_close(item.price_per_hour, res.price_per_hour, 1e-9, &item.sku);
        assert_eq!(item.kind.as_ref(), Some(&res.kind));
    }
    let capacity: f64 = items.resources.iter().map(|i| i.price).sum();
    let capacity_dim = mine.costs.dimensions.iter().find(|d| d.kind == DimensionType::Capacity).unwrap();
    assert_close(capacity, capacity_dim.cost, tol(capacity), "capacity is the sum of resource prices");
    let dts: f64 = items.data_transfer_and_storage.iter().map(|d| d.cost).sum();
    assert_close(capacity + dts, items.costs.total, tol(dts), "capacity plus data transfer and storage");
}

#[tokio::test]
async fn organization_items_match_the_overview() {
    let sim = sim().await;
    let c = clients(&sim);
    let creds = demo_key(&sim);
    let org = sim.dataset().demo_org();
    let r = range((2025, 5, 1), (2025, 6, 1));

    let overview = c.v1.overview(&creds, &org.id).range(r).send().await.unwrap();
    let items = c.v1.items(&creds, &org.id).range(r).send().await.unwrap();
    assert_close(items.costs.total, overview.costs.total, tol(overview.costs.total), "items total");
    let resources: f64 = items.resources.iter().map(|i| i.price).sum();
    let dts: f64 = items.data_transfer_and_storage.iter().map(|d| d.cost).sum();
    assert_close(resources + dts, items.costs.total, tol(items.costs.total), "items add up");
    let skus: BTreeSet<_> = org.deployments.iter().flat_map(|d| &d.resources).map(|r| r.sku.as_str()).collect();
    assert!(items.resources.iter().all(|i| skus.contains(i.sku.as_str())));
}

#[tokio::test]
async fn each_key_reads_its_own_organization_in_either_scheme() {
    let sim = sim().await;
    let c = clients(&sim);
    let other = sim.dataset().other_org();
    let r = range((2025, 5, 1), (2025, 6, 1));

    let costs = c.v1.deployments(&other_key(&sim), &other.id).range(r).send().await.unwrap();
    let ids: BTreeSet<_> = costs.deployments.iter().map(|d| d.deployment_id.as_str()).collect();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| other.deployment(id).is_some()), "only the other organization's deployments");

    let key = &sim.dataset().credentials().elastic_demo_key;
    let bearer = ElasticCredentials::bearer(key).unwrap();
    let org = &sim.dataset().demo_org().id;
    let a = c.v1.overview(&bearer, org).range(r).send().await.unwrap();
    let b = c.v1.overview(&demo_key(&sim), org).range(r).send().await.unwrap();
    assert_eq!(a, b);
    let auth: Vec<_> = sim.requests().into_iter().filter_map(|q| q.authorization).collect();
    assert_eq!(&auth[1..], [format!("Bearer {key}"), format!("ApiKey {key}")]);
}
