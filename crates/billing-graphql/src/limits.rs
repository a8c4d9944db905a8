//! Document limits async-graphql does not have: a cap on aliases, checked right after parsing,
//! before validation, execution, and any upstream call.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// Refuses documents with more than `max` aliased fields.
#[derive(Debug, Clone, Copy)]
pub struct AliasLimit {
    pub max: usize,
}

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for AliasLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let mut count = 0;
        for (_, op) in doc.operations.iter() {
            count += aliases(&op.node.selection_set.node);
        }
        for fragment in doc.fragments.values() {
            count += aliases(&fragment.node.selection_set.node);
        }
        if count > self.max {
            let mut err =
                ServerError::new(format!("the query has {count} aliases; at most {} are allowed", self.max), None);
            err.extensions = Some({
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", "ALIAS_LIMIT_EXCEEDED");
                ext
            });
            return Err(err);
        }
        Ok(doc)
    }
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
