//! The IBM GraphQL Cost Directive spec's `@cost` and `@listSize`, as `schema.graphql` carries
//! them: each field that calls an upstream weighs one call, every object type weighs nothing
//! (the spec's default for an object is 1), and the lists whose members call an upstream each
//! are assumed 20 long ([`ASSUMED_LIST_SIZE`](crate::ASSUMED_LIST_SIZE), which `tests/cost.rs`
//! holds to this SDL), as the gateway's own
//! estimate assumes when it knows nothing of a list. A tool that reads them prices a query as
//! the gateway does cold, except where the gateway batches: `Deployment.lineItems` is one call
//! for every deployment of an organization and range, which the spec cannot say.

#![allow(unreachable_pub)]

use async_graphql::TypeDirective;

/// The weight of a field, argument or type (IBM GraphQL Cost Directive spec): here, the
/// upstream calls a field makes each time it resolves.
#[TypeDirective(
    location = "ArgumentDefinition",
    location = "Enum",
    location = "FieldDefinition",
    location = "InputFieldDefinition",
    location = "Object"
)]
pub fn cost(weight: String) {}

/// The size of a list field (IBM GraphQL Cost Directive spec): `assumedSize` when nothing
/// else says, or the value of a slicing argument such as `first`.
#[TypeDirective(name = "listSize", location = "FieldDefinition")]
pub fn list_size(
    assumed_size: Option<i32>,
    slicing_arguments: Option<Vec<String>>,
    sized_fields: Option<Vec<String>>,
    #[graphql(default_with = "Some(true)")] require_one_slicing_argument: Option<bool>,
) {
}
