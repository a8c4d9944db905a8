//! What we read we can write back: every payload type serializes and parses back equal.
#![allow(clippy::unwrap_used)] // Strategy helpers outside #[test] fns build values known to be valid.

use billing_model::elastic::{v1, v2};
use billing_model::talkdesk::{Filter, Link, Links, UsageAggregate, UsageEmbedded, UsagePage};
use billing_model::{
    AccountId, ChartItem, ChartItemValue, ChartItems, DateRange, DimensionType, Direction, InstanceType, Month,
    ResourceKind, UsageType,
};
use chrono::{DateTime, TimeZone, Utc};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let text = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(&back, value, "{text}");
}

fn money() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), 0.0..1e6_f64, (0_u32..10_000_000).prop_map(|n| f64::from(n) / 1e4)]
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0_i64..4_102_444_800).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

fn chart_instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0_i64..4_102_444_800).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap()),
        (0_i64..4_102_444_800_000).prop_map(|ms| Utc.timestamp_millis_opt(ms).unwrap()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,24}"
}

/// An open enum value: a known one, or an unknown string that no known value matches.
fn open<T: From<String> + Clone + std::fmt::Debug + 'static>(known: &'static [T]) -> impl Strategy<Value = T> {
    prop_oneof![proptest::sample::select(known), "zz_[a-z_]{1,12}".prop_map(T::from),]
}

fn dimension_type() -> impl Strategy<Value = DimensionType> {
    open(DimensionType::KNOWN)
}

fn costs() -> impl Strategy<Value = v1::Costs> {
    (money(), vec((dimension_type(), money()).prop_map(|(kind, cost)| v1::Dimension { kind, cost }), 0..7)).prop_map(
        |(total, dimensions)| v1::Costs { total, dimensions, data_transfer_and_storage: None, resources: None },
    )
}

fn period() -> impl Strategy<Value = v1::Period> {
    (instant(), instant()).prop_map(|(start, end)| v1::Period { start, end })
}

prop_compose! {
    fn overview()(costs in costs(), trials in money(), hourly_rate in money(),
                  balance in option::of((money(), money(), vec((text(), money(), money(), instant(), instant()), 0..3))))
                  -> v1::CostsOverview {
        v1::CostsOverview { costs, trials, hourly_rate, balance: balance.map(|(available, remaining, items)| v1::Balance {
            available, remaining,
            line_items: items.into_iter().map(|(id, ecu_quantity, ecu_balance, start, end)|
                v1::SimplifiedLineItem { id, ecu_quantity, ecu_balance, start, end }).collect(),
        }) }
    }
}

prop_compose! {
    fn deployments()(total_cost in money(), rows in vec(("[0-9a-f]{32}", text(), costs(), money(), option::of(period())), 0..5))
                     -> v1::DeploymentsCosts {
        v1::DeploymentsCosts { total_cost, deployments: rows.into_iter().map(|(id, name, costs, hourly_rate, period)|
            v1::DeploymentCosts { deployment_id: id.into(), deployment_name: name, costs, hourly_rate, period }).collect() }
    }
}

prop_compose! {
    fn items()(costs in costs(),
               dts in vec((money(), text(), money(), money(), text(), dimension_type()), 0..4),
               resources in vec((0_u32..10_000, 0_u32..8, period(), option::of(open(ResourceKind::KNOWN)), money(), money(), text(), text()), 0..4))
               -> v1::ItemsCosts {
        v1::ItemsCosts {
            costs,
            data_transfer_and_storage: dts.into_iter().map(|(cost, name, q, r, sku, kind)| v1::DtsDimensionCosts {
                cost, name, sku, kind,
                quantity: v1::DtsQuantity { value: q, formatted_value: format!("{q} GB") },
                rate: v1::DtsRate { value: r, formatted_value: format!("{r} per GB") },
            }).collect(),
            resources: resources.into_iter().map(|(hours, instance_count, period, kind, price, price_per_hour, name, sku)| v1::ItemCosts {
                hours: f64::from(hours), instance_count, period, kind, price, price_per_hour, name, sku,
            }).collect(),
        }
    }
}

prop_compose! {
    fn charts()(points in vec((chart_instant(), vec((text(), text(), option::of(text()), money()), 0..4)), 0..5)) -> ChartItems {
        ChartItems { data: points.into_iter().map(|(timestamp, values)| ChartItem {
            timestamp,
            values: values.into_iter().map(|(id, name, kind, value)| ChartItemValue { id, name, kind, value }).collect(),
        }).collect() }
    }
}

fn quantity() -> impl Strategy<Value = v2::Quantity> {
    money().prop_map(|value| v2::Quantity { value, formatted_value: format!("{value:.4} GBs") })
}

fn rate() -> impl Strategy<Value = v2::Rate> {
    money().prop_map(|value| v2::Rate { value, formatted_value: format!("{value:.4} per GB") })
}

prop_compose! {
    fn line_item()(name in text(), total_ecu in money(), kind in dimension_type(), sku in text(), unit in text(),
                   quantity in quantity(), rate in rate(), resource_kind in option::of(open(ResourceKind::KNOWN)),
                   tiers in vec((money(), option::of(money()), money(), quantity(), rate()), 0..3),
                   segment in option::of((instant(), instant(), money(), rate(), option::of(quantity()))))
                   -> v2::ProductLineItem {
        let display_quantity = v2::DisplayQuantity {
            value: quantity.value, formatted_value: quantity.formatted_value.clone(),
            kind: Some(billing_model::DisplayQuantityType::Default), extra: serde_json::Map::new(),
        };
        let quantities = segment.into_iter().map(|(from, to, total_ecu, rate, quantity)| v2::ProductLineItemQuantity {
            from: Some(from), to: Some(to), total_ecu, rate, quantity,
            tiers: tiers.iter().cloned().map(|(min, max, total_ecu, quantity, rate)| v2::Tier { min, max, total_ecu, quantity, rate }).collect(),
        }).collect();
        v2::ProductLineItem { name, total_ecu, kind, sku, unit, quantity, display_quantity, rate, resource_kind, quantities }
    }
}

prop_compose! {
    fn instances()(total_ecu in money(),
                   instances in option::of(vec(("[0-9a-f]{32}", text(), money(), open(InstanceType::KNOWN), vec(line_item(), 0..3)), 0..3)))
                   -> v2::InstancesCosts {
        v2::InstancesCosts { total_ecu, instances: instances.map(|rows| rows.into_iter().map(|(id, name, total_ecu, kind, product_line_items)|
            v2::Instance { id: id.into(), name, total_ecu, kind, product_line_items }).collect()) }
    }
}

prop_compose! {
    fn products()(total_ecu in money(), products in option::of(vec((money(), text(), vec(line_item(), 0..3)), 0..3))) -> v2::ItemsCosts {
        v2::ItemsCosts { total_ecu, products: products.map(|rows| rows.into_iter().map(|(total_ecu, kind, product_line_items)|
            v2::Product { total_ecu, kind, product_line_items }).collect()) }
    }
}

fn month() -> impl Strategy<Value = Month> {
    (1_u16..=9999, 1_u8..=12).prop_map(|(y, m)| Month::new(y, m).unwrap())
}

prop_compose! {
    fn aggregate()(id in "[0-9a-f]{32}", account in option::of("[0-9a-f]{24}"), product in option::of(text()),
                   aggr in option::of(text()), month in option::of(month()), kind in option::of(open(UsageType::KNOWN)),
                   strings in (option::of(text()), option::of("[A-Z]{3}"), option::of(open(Direction::KNOWN)), option::of(text()), option::of(text()), option::of(text())),
                   numbers in (option::of(money()), option::of(money()), option::of(money())))
                   -> UsageAggregate {
        let (description, currency, direction, resolution, unit, wallet_name) = strings;
        let (price, number_of_units, total_amount) = numbers;
        UsageAggregate { id, account_id: account.map(AccountId::from), product_id: product, aggregated_product_id: aggr, month,
            kind, description, currency, direction, resolution, unit, price, wallet_name, number_of_units, total_amount }
    }
}

fn link() -> impl Strategy<Value = Option<Link>> {
    option::of("https://api\\.talkdeskapp\\.com/express/usage/month\\?page=[0-9]{1,3}".prop_map(|href| Link { href }))
}

prop_compose! {
    fn usage_page()(counters in (option::of(0_u64..500), option::of(1_u64..50), option::of(1_u64..250), option::of(0_u64..10_000), option::of(0_u64..50)),
                    usage in vec(aggregate(), 0..4), links in (link(), link(), link(), link(), link(), link())) -> UsagePage {
        let (count, page, per_page, total, total_pages) = counters;
        let (self_, first, last, next, prev, show) = links;
        UsagePage { count, page, per_page, total, total_pages, embedded: UsageEmbedded { usage }, links: Links { self_, first, last, next, prev, show } }
    }
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        "[ -~]{0,12}".prop_map(|id| Filter::account(&AccountId::from(id))),
        month().prop_map(Filter::month),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![vec(inner.clone(), 2..4).prop_map(Filter::And), vec(inner, 2..4).prop_map(Filter::Or),]
    })
}

/// Flattens nested same-operator nodes: `a and (b and c)` prints as `a and b and c` and parses flat.
fn normalize(f: Filter) -> Filter {
    fn flat(fs: Vec<Filter>, and: bool) -> Vec<Filter> {
        fs.into_iter()
            .map(normalize)
            .flat_map(|f| match f {
                Filter::And(inner) if and => inner,
                Filter::Or(inner) if !and => inner,
                other => vec![other],
            })
            .collect()
    }
    match f {
        Filter::And(fs) => Filter::And(flat(fs, true)),
        Filter::Or(fs) => Filter::Or(flat(fs, false)),
        leaf => leaf,
    }
}

proptest! {
    #[test] fn v1_costs_overview(v in overview()) { roundtrip(&v) }
    #[test] fn v1_deployments_costs(v in deployments()) { roundtrip(&v) }
    #[test] fn v1_items_costs(v in items()) { roundtrip(&v) }
    #[test] fn charts_v1_and_v2(v in charts()) { roundtrip(&v) }
    #[test] fn v2_instances_costs(v in instances()) { roundtrip(&v) }
    #[test] fn v2_items_costs(v in products()) { roundtrip(&v) }
    #[test] fn talkdesk_usage_page(v in usage_page()) { roundtrip(&v) }
    #[test] fn month_text(m in month()) { prop_assert_eq!(m.to_string().parse::<Month>().unwrap(), m) }

    #[test]
    fn date_range(a in instant(), b in instant()) {
        let r = DateRange::new(a.min(b), a.max(b)).unwrap();
        roundtrip(&r);
        let now = Utc::now();
        prop_assert_eq!(DateRange::parse(Some(&r.from_param()), Some(&r.to_param()), now).unwrap(), r);
    }

    #[test]
    fn filter_prints_and_parses_back(f in filter()) {
        let wire = f.to_string();
        prop_assert_eq!(Filter::parse(&wire).unwrap(), normalize(f), "{}", wire);
    }
}
