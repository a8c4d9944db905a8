//! Newtype ids for the things the upstreams name.

id_type!(
    /// An Elastic Cloud organization id, in practice a numeric string such as `3166899605`.
    OrganizationId
);
id_type!(
    /// An Elastic Cloud deployment id, 32 lowercase hex characters.
    DeploymentId
);
id_type!(
    /// An Elastic Cloud v2 instance id: a deployment id or a serverless project id.
    InstanceId
);
id_type!(
    /// A Talkdesk account id, 24 hex characters (Mongo-style).
    AccountId
);

impl From<DeploymentId> for InstanceId {
    /// A deployment is the v2 instance of the same id.
    fn from(id: DeploymentId) -> Self {
        InstanceId(id.0)
    }
}

impl From<InstanceId> for DeploymentId {
    fn from(id: InstanceId) -> Self {
        DeploymentId(id.0)
    }
}
