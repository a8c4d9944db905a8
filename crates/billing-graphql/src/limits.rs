//! Document limits async-graphql does not have: a cap on aliases, checked right after parsing,
//! before validation, execution, and any upstream call.
//!
//! A plain function called by `BillingGraph::execute`, not an async-graphql extension: any
//! extension makes async-graphql wrap every field's resolution, a cost paid per field.

use async_graphql::ServerError;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// The error for a document with more than `max` aliased fields, if it has them.
pub(crate) fn check_aliases(doc: &ExecutableDocument, max: usize) -> Option<ServerError> {
    let mut count = 0;
    for (_, op) in doc.operations.iter() {
        count += aliases(&op.node.selection_set.node);
    }
    for fragment in doc.fragments.values() {
        count += aliases(&fragment.node.selection_set.node);
    }
    (count > max).then(|| {
        let mut err = ServerError::new(format!("the query has {count} aliases; at most {max} are allowed"), None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", "ALIAS_LIMIT_EXCEEDED");
        err.extensions = Some(ext);
        err
    })
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set.node),
            Selection::InlineFragment(i) => aliases(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
