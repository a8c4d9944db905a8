//! Price list and naming tables: regions, instance families, SKUs and Talkdesk products.
//!
//! Prices are per GB of RAM per zone per hour, so a SKU's hourly rate follows from its parts the
//! way Elastic's does (`aws.es.datahot.c6gd_us-east-1_4096_2` costs 4 GB x 2 zones x 0.0384).

use billing_model::{DimensionType, Direction, ResourceKind, UsageType};

/// A cloud region as Elastic names it in SKUs and line-item names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    pub(crate) provider: &'static str,
    /// The region as it appears in SKUs; deliberately inconsistent (`us-east-1`, `aws-us-east-2`).
    pub(crate) id: &'static str,
    pub(crate) display: &'static str,
}

pub(crate) const REGIONS: &[Region] = &[
    Region { provider: "aws", id: "us-east-1", display: "AWS us-east-1 (N. Virginia)" },
    Region { provider: "aws", id: "aws-us-east-2", display: "AWS us-east-2 (Ohio)" },
    Region { provider: "aws", id: "eu-west-1", display: "AWS eu-west-1 (Ireland)" },
    Region { provider: "gcp", id: "gcp-europe-west1", display: "GCP europe-west1 (Belgium)" },
    Region { provider: "gcp", id: "gcp-us-central1", display: "GCP us-central1 (Iowa)" },
    Region { provider: "azure", id: "azure-eastus2", display: "Azure eastus2 (Virginia)" },
    Region { provider: "azure", id: "azure-westeurope", display: "Azure westeurope (Netherlands)" },
];

/// A deployment component: what it is called in SKUs, what kind it bills as, and its unit price.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub(crate) sku_part: &'static str,
    pub(crate) kind: ResourceKind,
    /// ECU per GB of RAM per zone per hour, before the provider's multiplier.
    pub(crate) unit_price: f64,
}

pub(crate) const HOT: Component =
    Component { sku_part: "es.datahot", kind: ResourceKind::Elasticsearch, unit_price: 0.0384 };
pub(crate) const WARM: Component =
    Component { sku_part: "es.datawarm", kind: ResourceKind::Elasticsearch, unit_price: 0.0184 };
pub(crate) const FROZEN: Component =
    Component { sku_part: "es.datafrozen", kind: ResourceKind::Elasticsearch, unit_price: 0.0302 };
pub(crate) const ML: Component = Component { sku_part: "es.ml", kind: ResourceKind::Elasticsearch, unit_price: 0.0512 };
pub(crate) const KIBANA: Component = Component { sku_part: "kibana", kind: ResourceKind::Kibana, unit_price: 0.0384 };
pub(crate) const INTEGRATIONS: Component =
    Component { sku_part: "integrationsserver", kind: ResourceKind::IntegrationsServer, unit_price: 0.0384 };
pub(crate) const APM: Component = Component { sku_part: "apm", kind: ResourceKind::Apm, unit_price: 0.0384 };
pub(crate) const ENTERPRISE_SEARCH: Component =
    Component { sku_part: "enterprisesearch", kind: ResourceKind::EnterpriseSearch, unit_price: 0.0512 };

/// The instance family a provider runs a component on.
pub(crate) fn family(provider: &str, component: &Component) -> &'static str {
    match (provider, component.sku_part) {
        ("aws", "es.datawarm") => "d3",
        ("aws", "es.datafrozen") => "i3en",
        ("aws", "es.ml") => "m6gd",
        ("aws", _) => "c6gd",
        ("gcp", "es.datawarm" | "es.datafrozen") => "n2.68x10x95",
        ("gcp", "es.ml") => "n2.68x32x45",
        ("gcp", _) => "n2.68x16x45",
        (_, "es.datawarm" | "es.datafrozen") => "edsv4",
        (_, "es.ml") => "e32sv3",
        _ => "fsv2",
    }
}

/// Provider price multiplier: the same instance costs a little more on some clouds.
pub(crate) fn provider_multiplier(provider: &str) -> f64 {
    match provider {
        "gcp" => 1.04,
        "azure" => 1.08,
        _ => 1.0,
    }
}

/// The display name of a provider in line-item names.
pub(crate) fn provider_display(provider: &str) -> &'static str {
    match provider {
        "gcp" => "GCP",
        "azure" => "Azure",
        _ => "AWS",
    }
}

/// A data transfer or storage dimension, in the fixed order [`crate::usage::Dts`] indexes.
#[derive(Debug, Clone)]
pub(crate) struct DtsDim {
    pub(crate) kind: DimensionType,
    pub(crate) sku_suffix: &'static str,
    pub(crate) name_suffix: &'static str,
    /// The v2 unit of the quantity.
    pub(crate) unit: &'static str,
    /// ECU per unit.
    pub(crate) rate: f64,
    /// How many v1 integer units (bytes, API calls) one v2 unit is.
    pub(crate) v1_units: f64,
}

/// The five non-capacity dimensions. Data in is free, as on Elastic Cloud.
pub(crate) const DTS_DIMS: [DtsDim; 5] = [
    DtsDim {
        kind: DimensionType::DataIn,
        sku_suffix: "data-transfer-in",
        name_suffix: "Data Transfer In",
        unit: "GB",
        rate: 0.0,
        v1_units: 1_073_741_824.0,
    },
    DtsDim {
        kind: DimensionType::DataOut,
        sku_suffix: "data-transfer-out",
        name_suffix: "Data Transfer Out",
        unit: "GB",
        rate: 0.05,
        v1_units: 1_073_741_824.0,
    },
    DtsDim {
        kind: DimensionType::DataInternode,
        sku_suffix: "data-transfer-internode",
        name_suffix: "Data Transfer Inter-Node",
        unit: "GB",
        rate: 0.01,
        v1_units: 1_073_741_824.0,
    },
    DtsDim {
        kind: DimensionType::StorageBytes,
        sku_suffix: "snapshot-storage",
        name_suffix: "Snapshot Storage",
        unit: "GB",
        rate: 0.033,
        v1_units: 1_073_741_824.0,
    },
    DtsDim {
        kind: DimensionType::StorageApi,
        sku_suffix: "snapshot-api-1k",
        name_suffix: "Snapshot API requests",
        unit: "1000 API Calls",
        rate: 0.0018,
        v1_units: 1000.0,
    },
];

/// A serverless usage line: its type, SKU part, unit, ECU rate and typical daily quantity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerlessLine {
    pub(crate) kind: &'static str,
    pub(crate) sku_part: &'static str,
    pub(crate) name: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) rate: f64,
    pub(crate) daily: f64,
}

/// The lines a serverless project of a given type bills.
pub(crate) fn serverless_lines(project_type: &str) -> &'static [ServerlessLine] {
    const OBSERVABILITY: &[ServerlessLine] = &[
        ServerlessLine {
            kind: "ingest",
            sku_part: "observability.ingest",
            name: "Observability Ingest",
            unit: "GB",
            rate: 0.15,
            daily: 40.0,
        },
        ServerlessLine {
            kind: "retention",
            sku_part: "observability.retention",
            name: "Observability Retention",
            unit: "GB",
            rate: 0.0006,
            daily: 900.0,
        },
    ];
    const SECURITY: &[ServerlessLine] = &[
        ServerlessLine {
            kind: "ingest",
            sku_part: "security.ingest",
            name: "Security Ingest",
            unit: "GB",
            rate: 0.18,
            daily: 25.0,
        },
        ServerlessLine {
            kind: "retention",
            sku_part: "security.retention",
            name: "Security Retention",
            unit: "GB",
            rate: 0.0006,
            daily: 600.0,
        },
    ];
    const ELASTICSEARCH: &[ServerlessLine] = &[
        ServerlessLine {
            kind: "ingest_vcu",
            sku_part: "elasticsearch.ingest-vcu",
            name: "Elasticsearch Ingest VCU",
            unit: "hour",
            rate: 0.14,
            daily: 30.0,
        },
        ServerlessLine {
            kind: "search_vcu",
            sku_part: "elasticsearch.search-vcu",
            name: "Elasticsearch Search VCU",
            unit: "hour",
            rate: 0.09,
            daily: 48.0,
        },
    ];
    match project_type {
        "observability" => OBSERVABILITY,
        "security" => SECURITY,
        _ => ELASTICSEARCH,
    }
}

/// A Talkdesk product a usage row bills.
#[derive(Debug, Clone)]
pub(crate) struct TalkdeskProduct {
    pub(crate) kind: UsageType,
    pub(crate) product_id: &'static str,
    pub(crate) aggregated_product_id: &'static str,
    pub(crate) description: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) direction: Option<Direction>,
    pub(crate) resolution: Option<&'static str>,
    pub(crate) wallet: &'static str,
    /// Price per unit, USD.
    pub(crate) price: f64,
    /// Typical units per account-month.
    pub(crate) units: f64,
}

/// Every Talkdesk product, at least one per [`UsageType`].
pub(crate) fn talkdesk_products() -> Vec<TalkdeskProduct> {
    use Direction::{Inbound, Other, Outbound};
    let p =
        |kind, product_id, aggregated_product_id, description, unit, direction, resolution, wallet, price, units| {
            TalkdeskProduct {
                kind,
                product_id,
                aggregated_product_id,
                description,
                unit,
                direction,
                resolution,
                wallet,
                price,
                units,
            }
        };
    vec![
        p(
            UsageType::Number,
            "TD-USG-TEL-NUM-102100",
            "TD-USG-TEL-UG-102213",
            "SIP Number",
            "EACH",
            None,
            None,
            "product_usage",
            1.0,
            12.0,
        ),
        p(
            UsageType::Call,
            "TD-USG-TEL-CIN-102201",
            "TD-USG-TEL-UG-102213",
            "Inbound Calls",
            "PER_MINUTE",
            Some(Inbound),
            Some("answered"),
            "product_usage",
            0.012,
            42_000.0,
        ),
        p(
            UsageType::Call,
            "TD-USG-TEL-COUT-102202",
            "TD-USG-TEL-UG-102213",
            "Outbound Calls",
            "PER_MINUTE",
            Some(Outbound),
            Some("answered"),
            "product_usage",
            0.018,
            18_000.0,
        ),
        p(
            UsageType::CallService,
            "TD-USG-CSV-REC-102300",
            "TD-USG-CSV-UG-102301",
            "Call Recording Storage",
            "PER_MINUTE",
            Some(Other),
            None,
            "product_usage",
            0.002,
            30_000.0,
        ),
        p(
            UsageType::Amd,
            "TD-USG-AMD-102400",
            "TD-USG-DIA-UG-102601",
            "Answering Machine Detection",
            "PER_USE",
            Some(Outbound),
            Some("machine"),
            "product_usage",
            0.005,
            6_000.0,
        ),
        p(
            UsageType::ApiRequest,
            "TD-USG-API-102500",
            "TD-USG-API-UG-102501",
            "API Requests",
            "PER_API_CALL",
            None,
            None,
            "product_usage",
            0.0001,
            250_000.0,
        ),
        p(
            UsageType::CreditCommit,
            "TD-CRD-COMMIT-103000",
            "TD-CRD-UG-103001",
            "Monthly Credit Commitment",
            "CREDITS",
            None,
            None,
            "saas_licenses",
            1.0,
            500.0,
        ),
        p(
            UsageType::Dialer,
            "TD-USG-DIA-102600",
            "TD-USG-DIA-UG-102601",
            "Predictive Dialer",
            "PER_MINUTE",
            Some(Outbound),
            Some("abandoned"),
            "product_usage",
            0.015,
            9_000.0,
        ),
        p(
            UsageType::Message,
            "TD-USG-SMS-102700",
            "TD-USG-SMS-UG-102701",
            "SMS Messages",
            "PER_USE",
            Some(Outbound),
            None,
            "product_usage",
            0.0079,
            4_000.0,
        ),
        p(
            UsageType::ProductService,
            "TD-LIC-APP-RC-101910",
            "TD-LIC-UG-101900",
            "Talkdesk Guardian",
            "PER_SEAT",
            None,
            None,
            "guardian",
            15.0,
            25.0,
        ),
        p(
            UsageType::Recharge,
            "TD-CRD-RCH-103100",
            "TD-CRD-UG-103001",
            "Wallet Recharge",
            "CREDITS",
            None,
            None,
            "product_usage",
            1.0,
            200.0,
        ),
        p(
            UsageType::SpeechTranscription,
            "TD-USG-AI-STT-102800",
            "TD-USG-AI-UG-102801",
            "Speech Transcription",
            "PER_MINUTE",
            Some(Inbound),
            None,
            "ai_premium_batch",
            0.006,
            20_000.0,
        ),
        p(
            UsageType::VoicemailTranscription,
            "TD-USG-AI-VMT-102900",
            "TD-USG-AI-UG-102801",
            "Voicemail Transcription",
            "PER_MINUTE",
            Some(Inbound),
            Some("voicemail"),
            "ai_premium_batch",
            0.004,
            1_500.0,
        ),
        p(
            UsageType::Other,
            "TD-USG-OTH-109900",
            "TD-USG-OTH-UG-109901",
            "Miscellaneous Usage",
            "OTHER",
            None,
            None,
            "product_usage",
            0.5,
            10.0,
        ),
    ]
}

/// Words deployment names are made of.
pub(crate) const SYSTEMS: &[&str] = &[
    "search",
    "logs",
    "metrics",
    "apm",
    "siem",
    "catalog",
    "orders",
    "payments",
    "checkout",
    "analytics",
    "observability",
    "security",
    "inventory",
    "recommendations",
    "audit",
    "clickstream",
    "support",
    "billing",
];
pub(crate) const ENVIRONMENTS: &[&str] = &["prod", "production", "staging", "dev", "qa", "sandbox", "perf"];
