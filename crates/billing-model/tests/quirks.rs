//! Each way the real services differ from their docs, as its own test.

use billing_model::elastic::{v1, v2};
use billing_model::talkdesk::UsagePage;
use billing_model::{ChartItems, DimensionType, ResourceKind, UsageType};
use serde_json::json;

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn null_lists_read_as_empty() {
    let body: v2::InstancesCosts = parse(json!({"total_ecu": 0, "instances": null}));
    assert!(body.instances().is_empty());
    let body: v2::ItemsCosts = parse(json!({"total_ecu": 0, "products": null}));
    assert!(body.products().is_empty());
    let body: ChartItems = parse(json!({"data": null}));
    assert!(body.data.is_empty());
    let body: v1::DeploymentsCosts = parse(json!({"total_cost": 0, "deployments": null}));
    assert!(body.deployments.is_empty());
    let body: v2::Instance =
        parse(json!({"id": "i", "name": null, "total_ecu": 1, "type": "deployment", "product_line_items": null}));
    assert!(body.product_line_items.is_empty());
    assert_eq!(body.name, "");
}

#[test]
fn integers_documented_arrive_as_floats() {
    let body: v2::InstancesCosts = parse(json!({"total_ecu": 14.0214, "instances": []}));
    assert_eq!(body.total_ecu, 14.0214);
    let body: v2::InstancesCosts = parse(json!({"total_ecu": 0, "instances": []}));
    assert_eq!(body.total_ecu, 0.0);
    let item: v1::ItemCosts = parse(json!({
        "hours": 24.0, "instance_count": 2.0, "kind": "elasticsearch", "price": 1.5, "price_per_hour": 0.0625,
        "name": "hot", "sku": "aws.es.datahot.c6gd_us-east-1_4096_2",
        "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
    }));
    assert_eq!((item.hours, item.instance_count), (24.0, 2));
    let q: v1::DtsQuantity = parse(json!({"value": 8.326714027673006, "formatted_value": "8.3267 GB"}));
    assert_eq!(q.value, 8.326714027673006);
}

#[test]
fn kind_may_be_null_or_absent() {
    let base = json!({
        "hours": 1, "instance_count": 1, "price": 0, "price_per_hour": 0, "name": "n", "sku": "s",
        "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
    });
    let absent: v1::ItemCosts = parse(base.clone());
    assert_eq!(absent.kind, None);
    let mut with_null = base;
    with_null["kind"] = json!(null);
    assert_eq!(parse::<v1::ItemCosts>(with_null).kind, None);
    let line: v2::ProductLineItem = parse(json!({
        "name": "AWS Data Transfer In", "total_ecu": 0.0, "type": "data_in",
        "display_quantity": {"value": 1, "formatted_value": "1 GB"}
    }));
    assert_eq!(line.resource_kind, None);
}

#[test]
fn chart_timestamps_read_in_seconds_and_milliseconds_alike() {
    let seconds: ChartItems = parse(json!({"data": [{"timestamp": 1_737_504_000, "values": []}]}));
    let millis: ChartItems = parse(json!({"data": [{"timestamp": 1_737_504_000_000_i64, "values": []}]}));
    assert_eq!(seconds.data[0].timestamp, millis.data[0].timestamp);
    assert_eq!(seconds.data[0].timestamp.to_rfc3339(), "2025-01-22T00:00:00+00:00");
    // Written back in seconds, as the simulator serves them.
    assert_eq!(serde_json::to_value(&millis).unwrap()["data"][0]["timestamp"], json!(1_737_504_000));
}

#[test]
fn v2_chart_values_may_lack_every_field() {
    let body: ChartItems =
        parse(json!({"data": [{"timestamp": 1, "values": [{"type": "deployment"}, {"value": 2.5}]}]}));
    assert_eq!(body.data[0].values[0].id, "");
    assert_eq!(body.data[0].total(), 2.5);
}

#[test]
fn unknown_fields_are_ignored() {
    let body: v1::CostsOverview = parse(json!({
        "costs": {"total": 1, "dimensions": [], "currency": "ECU"},
        "trials": 0, "hourly_rate": 0, "introduced_later": {"x": 1}
    }));
    assert_eq!(body.costs.total, 1.0);
}

#[test]
fn unknown_enum_values_are_kept() {
    let dim: v1::Dimension = parse(json!({"type": "vector_ingest", "cost": 3}));
    assert_eq!(dim.kind, DimensionType::Unknown("vector_ingest".into()));
    let item: v2::ProductLineItem = parse(json!({
        "name": "x", "total_ecu": 1, "type": "search_vcu", "kind": "integrations_server",
        "display_quantity": {"value": 1, "formatted_value": "1", "type": "custom", "extra_field": true}
    }));
    assert_eq!(item.kind, DimensionType::Unknown("search_vcu".into()));
    assert_eq!(item.resource_kind, Some(ResourceKind::IntegrationsServer));
    assert_eq!(item.display_quantity.extra["extra_field"], json!(true), "additional properties are kept");
    let back = serde_json::to_value(&item).unwrap();
    assert_eq!(back["display_quantity"]["type"], json!("custom"));
}

#[test]
fn v1_legacy_costs_shape_still_reads() {
    let costs: v1::Costs = parse(json!({"total": 3.5, "data_transfer_and_storage": 1.0, "resources": 2.5}));
    assert!(costs.dimensions.is_empty());
    assert_eq!((costs.data_transfer_and_storage, costs.resources), (Some(1.0), Some(2.5)));
}

#[test]
fn organization_ids_may_arrive_as_integers() {
    let id: billing_model::OrganizationId = parse(json!(3_166_899_605_u64));
    assert_eq!(id.as_str(), "3166899605");
}

#[test]
fn talkdesk_links_read_at_top_level_or_under_links() {
    let under: UsagePage = parse(json!({"_links": {"next": {"href": "https://x/n"}}, "_embedded": {"usage": []}}));
    let top: UsagePage = parse(json!({"next": {"href": "https://x/n"}, "self": {"href": "https://x/s"}}));
    assert_eq!(under.next(), Some("https://x/n"));
    assert_eq!(top.next(), Some("https://x/n"));
    assert_eq!(top.links.self_.unwrap().href, "https://x/s");
    let back = serde_json::to_value(UsagePage { links: under.links.clone(), ..UsagePage::default() }).unwrap();
    assert_eq!(back["_links"]["next"]["href"], json!("https://x/n"), "written under _links");
}

#[test]
fn talkdesk_page_tolerates_missing_embedded_and_counters() {
    let empty: UsagePage = parse(json!({"_links": {"self": {"href": "https://x"}}}));
    assert!(empty.usage().is_empty());
    assert_eq!(empty.total, None);
    assert_eq!(empty.next(), None);
}

#[test]
fn talkdesk_nullable_fields_and_other_type() {
    let page: UsagePage = parse(json!({"_embedded": {"usage": [{
        "id": "8f3e643c16671acaf60e8bceddbc1877", "account_id": "5ea75fe7aa224700012eae40",
        "product_id": "TD-LIC-APP-RC-101910", "aggr_product_id": "TD-USG-TEL-UG-102213", "month": "2023-08",
        "type": "NUMBER", "description": "SIP Number", "currency": "USD", "direction": null, "resolution": null,
        "unit": "EACH", "price": 1.5, "wallet_name": "product_usage", "number_of_units": 2, "total_amount": 3
    }, {"id": "2", "type": "HOLOGRAM"}]}}));
    let [first, second] = page.usage() else { panic!("two rows") };
    assert_eq!(first.kind, Some(UsageType::Number));
    assert_eq!(first.direction, None);
    assert_eq!(first.month.unwrap().to_string(), "2023-08");
    assert_eq!(first.total_amount, Some(3.0));
    assert_eq!(second.kind, Some(UsageType::Unknown("HOLOGRAM".into())));
}
