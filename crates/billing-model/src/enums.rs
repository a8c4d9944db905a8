//! The upstreams' enumerations, each open to values added after this was written.

open_enum! {
    /// The cost dimension of a v1 `Dimension` or `DtsDimensionCosts`, and the type of a v2 line item.
    pub enum DimensionType {
        Capacity = "capacity",
        DataIn = "data_in",
        DataInternode = "data_internode",
        DataOut = "data_out",
        StorageApi = "storage_api",
        StorageBytes = "storage_bytes",
        /// Seen on v2 line items only.
        SyntheticsBrowser = "synthetics_browser",
        /// Seen on v2 line items only.
        SyntheticsLightweight = "synthetics_lightweight",
    }
}

open_enum! {
    /// The kind of resource a v1 item or v2 capacity line bills for.
    pub enum ResourceKind {
        Elasticsearch = "elasticsearch",
        Kibana = "kibana",
        Apm = "apm",
        IntegrationsServer = "integrations_server",
        Appsearch = "appsearch",
        EnterpriseSearch = "enterprise_search",
    }
}

open_enum! {
    /// The type of a v2 instance: a hosted deployment or a kind of serverless project.
    pub enum InstanceType {
        Deployment = "deployment",
        Elasticsearch = "elasticsearch",
        Observability = "observability",
        Security = "security",
    }
}

open_enum! {
    /// The `type` of a v2 `display_quantity`.
    pub enum DisplayQuantityType {
        Default = "default",
        Normalized = "normalized",
    }
}

open_enum! {
    /// The `type` of a Talkdesk usage aggregate. `OTHER` is a documented value; `Unknown` is ours.
    pub enum UsageType {
        Amd = "AMD",
        ApiRequest = "API_REQUEST",
        Call = "CALL",
        CallService = "CALL_SERVICE",
        CreditCommit = "CREDIT_COMMIT",
        Dialer = "DIALER",
        Message = "MESSAGE",
        Number = "NUMBER",
        ProductService = "PRODUCT_SERVICE",
        Recharge = "RECHARGE",
        SpeechTranscription = "SPEECH_TRANSCRIPTION",
        VoicemailTranscription = "VOICEMAIL_TRANSCRIPTION",
        Other = "OTHER",
    }
}

open_enum! {
    /// The direction of a Talkdesk interaction, when it has one.
    pub enum Direction {
        Inbound = "INBOUND",
        Outbound = "OUTBOUND",
        Other = "OTHER",
    }
}

open_enum! {
    /// v2 `/costs/items` `serverless_group_by`.
    pub enum ServerlessGroupBy {
        Product = "product",
        ProductFamily = "product_family",
    }
}

open_enum! {
    /// v2 `/charts` `instance_type`: which instances the organization chart covers.
    pub enum InstanceTypeFilter {
        All = "all",
        Deployments = "deployments",
        Projects = "projects",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept_verbatim() {
        let kind: ResourceKind = serde_json::from_str(r#""vector_search""#).unwrap();
        assert_eq!(kind, ResourceKind::Unknown("vector_search".into()));
        assert_eq!(serde_json::to_string(&kind).unwrap(), r#""vector_search""#);
        assert!(!kind.is_known());
    }

    #[test]
    fn known_values_match_case_insensitively() {
        assert_eq!(DimensionType::from("Capacity"), DimensionType::Capacity);
        assert_eq!(UsageType::from("call"), UsageType::Call);
        assert_eq!(UsageType::from("OTHER"), UsageType::Other);
    }

    #[test]
    fn known_lists_every_variant_once() {
        assert_eq!(DimensionType::KNOWN.len(), 8);
        assert_eq!(UsageType::KNOWN.len(), 13);
        for v in UsageType::KNOWN {
            assert_eq!(&UsageType::from(v.as_str()), v);
        }
    }
}
