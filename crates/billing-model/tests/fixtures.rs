//! Every real and documented payload in `tests/fixtures/` parses, with its values checked.

use billing_model::elastic::{v1, v2};
use billing_model::talkdesk::UsagePage;
use billing_model::{DimensionType, DisplayQuantityType, InstanceType, ResourceKind};
use serde::de::DeserializeOwned;

/// Parses a fixture through `serde_path_to_error`, so a failure names the field.
fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).unwrap_or_else(|e| panic!("decode {name} at {}: {}", e.path(), e.inner()))
}

#[test]
fn v2_costs_instances_real_mock() {
    let body: v2::InstancesCosts = fixture("elastic-v2-costs-instances.200.json");
    assert_eq!(body.total_ecu, 14.0214);
    let [instance] = body.instances() else { panic!("one instance expected") };
    assert_eq!(instance.id.as_str(), "4679751e171d403d8603cb1639b67e57");
    assert_eq!(instance.name, "example-deployment");
    assert_eq!(instance.kind, InstanceType::Deployment);
    assert_eq!(instance.total_ecu, 14.0214);
    assert_eq!(instance.product_line_items.len(), 10);

    let hot = &instance.product_line_items[1];
    assert_eq!(hot.sku, "aws.es.datahot.c6gd_us-east-1_4096_2");
    assert_eq!(hot.kind, DimensionType::Capacity);
    assert_eq!(hot.resource_kind, Some(ResourceKind::Elasticsearch));
    assert_eq!((hot.quantity.value, hot.rate.value, hot.total_ecu), (24.0, 0.3072, 7.3728));
    assert_eq!(hot.display_quantity.kind, Some(DisplayQuantityType::Default));
    assert_eq!(hot.rate.formatted_value, "0.3072 per hour");

    let data_in = &instance.product_line_items[3];
    assert_eq!(data_in.kind, DimensionType::DataIn);
    assert_eq!(data_in.resource_kind, None, "kind: null reads as None");
    assert_eq!(data_in.quantity.value, 8.326714027673006);

    let synthetics = &instance.product_line_items[9];
    assert_eq!(synthetics.kind, DimensionType::SyntheticsLightweight);
    assert_eq!(synthetics.unit, "region");

    // The contract's arithmetic: line total = round(quantity * rate, 4), instance = sum of lines.
    for line in &instance.product_line_items {
        let expect = (line.quantity.value * line.rate.value * 1e4).round() / 1e4;
        assert!((line.total_ecu - expect).abs() < 1e-9, "{}: {} != {expect}", line.sku, line.total_ecu);
    }
    let sum: f64 = instance.product_line_items.iter().map(|l| l.total_ecu).sum();
    assert!((sum - instance.total_ecu).abs() < 1e-9);
}

#[test]
fn v2_costs_instances_null_and_empty_read_alike() {
    let null: v2::InstancesCosts = fixture("elastic-v2-costs-instances.200-instances-null.json");
    let empty: v2::InstancesCosts = fixture("elastic-v2-costs-instances.200-instances-empty.json");
    assert!(null.instances().is_empty());
    assert!(empty.instances().is_empty());
    assert_eq!(null.total_ecu, 14.0214, "the total survives null instances");
    assert_eq!(serde_json::to_value(&null).unwrap()["instances"], serde_json::Value::Null, "written back as null");
}

#[test]
fn v2_costs_instances_doc_example() {
    let body: v2::InstancesCosts = fixture("elastic-v2-costs-instances.doc-example.json");
    assert_eq!(body.total_ecu, 42.0);
    let line = &body.instances()[0].product_line_items[0];
    assert_eq!(line.resource_kind, Some(ResourceKind::Unknown("string".into())));
    let q = &line.quantities[0];
    assert_eq!(q.from.unwrap().to_rfc3339(), "2025-05-04T09:42:00+00:00");
    assert_eq!(q.tiers[0].max, Some(42.0));
    assert_eq!(q.quantity.as_ref().unwrap().value, 42.0);
}

#[test]
fn v2_costs_items_doc_example() {
    let body: v2::ItemsCosts = fixture("elastic-v2-costs-items.doc-example.json");
    let [product] = body.products() else { panic!("one product expected") };
    assert_eq!(product.kind, "string");
    assert_eq!(product.product_line_items[0].quantities[0].to.unwrap().to_rfc3339(), "2024-05-04T09:42:00+00:00");
}

#[test]
fn v2_charts_doc_example() {
    let body: v2::ChartItems = fixture("elastic-v2-charts.doc-example.json");
    let point = &body.data[0];
    assert_eq!(point.timestamp.timestamp(), 42, "a small timestamp reads as seconds");
    assert_eq!(point.values[0].kind.as_deref(), Some("string"));
    assert_eq!(point.total(), 42.0);
}

#[test]
fn v2_error_body_real() {
    let body: v2::ErrorBody = fixture("elastic-v2-costs-instances.400-invalid-input.json");
    assert_eq!(body.error, "invalid_input");
    assert!(!body.success);
    assert_eq!(body.detail.unwrap().messages["_schema"], ["'from' must not be earlier than 2021-01-01T00:00:00+00:00"]);
}

#[test]
fn v2_403_is_plain_text_not_json() {
    let path = format!("{}/tests/fixtures/elastic-v2-costs-instances.403.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("403: User does not have 'billing-costs:get:"));
    assert!(serde_json::from_str::<v2::ErrorBody>(&text).is_err());
}

#[test]
fn v1_costs_overview_doc_example() {
    let body: v1::CostsOverview = fixture("elastic-v1-costs-overview.doc-example.json");
    assert_eq!((body.costs.total, body.trials, body.hourly_rate), (0.1, 0.1, 0.1));
    assert_eq!(body.costs.dimensions[0].kind, DimensionType::Unknown("string".into()));
    let balance = body.balance.unwrap();
    assert_eq!(balance.line_items[0].start.to_rfc3339(), "2019-01-01T00:00:00+00:00");
    assert_eq!((balance.available, balance.remaining), (0.1, 0.1));
}

#[test]
fn v1_error_doc_example() {
    let body: v1::BasicFailedReply = fixture("elastic-v1-error.doc-example.json");
    assert_eq!(body.errors[0].code, "string");
    assert_eq!(body.errors[0].fields.as_deref(), Some(&["string".to_owned()][..]));
}

#[test]
fn talkdesk_paging_doc_example_reads_counters_and_links() {
    let body: UsagePage = fixture("talkdesk-paging.doc-example.json");
    assert_eq!((body.total, body.page, body.per_page), (Some(2), Some(1), Some(1)));
    assert!(body.usage().is_empty(), "this sample embeds users, not usage");
    assert!(body.links.self_.is_some());
    assert!(body.next().is_some());
}
