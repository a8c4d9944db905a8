//! Response fields in query order, as the GraphQL spec requires ("Serialized Map Ordering").
//!
//! async-graphql 7 resolves sibling fields concurrently and collects them in completion order
//! (`FuturesUnordered`), so a slow `organization` can come after a fast `usageAggregates` even
//! when the query asks for it first. This extension keeps the parsed document and, after
//! execution, reorders every object of the response by its selection set: linear in the size of
//! the response.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Response, ServerResult, Value, Variables};

/// Reorders response objects into query order.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderedResponse;

impl ExtensionFactory for OrderedResponse {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Ordering { doc: Mutex::new(None) })
    }
}

struct Ordering {
    doc: Mutex<Option<Arc<ExecutableDocument>>>,
}

#[async_trait::async_trait]
impl Extension for Ordering {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let Ok(mut slot) = self.doc.lock() {
            *slot = Some(Arc::new(doc.clone()));
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let doc = self.doc.lock().ok().and_then(|d| d.clone());
        if let Some(doc) = doc {
            let op = match (&doc.operations, operation_name) {
                (DocumentOperations::Single(op), _) => Some(op),
                (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
                (DocumentOperations::Multiple(ops), None) => ops.values().next(),
            };
            if let Some(op) = op {
                reorder(&mut response.data, &[&op.node.selection_set.node], &doc);
            }
        }
        response
    }
}

/// Reorders `value` (an object, or a list of them) by the merged `sets`.
fn reorder(value: &mut Value, sets: &[&SelectionSet], doc: &ExecutableDocument) {
    if !matches!(value, Value::List(_) | Value::Object(_)) || sets.iter().all(|s| s.items.is_empty()) {
        return;
    }
    // The order is worked out once for a whole list: its elements share one selection.
    let mut order: Vec<(&Name, Vec<&SelectionSet>)> = Vec::new();
    for set in sets {
        collect(set, doc, &mut order);
    }
    apply(value, &order, doc);
}

/// Puts the keys of `value` (or of every object in it) in `order`, then recurses.
fn apply(value: &mut Value, order: &[(&Name, Vec<&SelectionSet>)], doc: &ExecutableDocument) {
    match value {
        Value::List(items) => items.iter_mut().for_each(|v| apply(v, order, doc)),
        Value::Object(map) => {
            // Objects whose fields all resolved at once are usually in order already.
            let in_order = map.len() == order.len() && map.keys().zip(order).all(|(k, (key, _))| k == *key);
            if !in_order {
                let mut reordered = async_graphql::indexmap::IndexMap::with_capacity(map.len());
                for (key, _) in order {
                    // The rest is rebuilt anyway, so an O(1) removal is enough.
                    if let Some((k, v)) = map.swap_remove_entry(*key) {
                        reordered.insert(k, v);
                    }
                }
                // Anything not in the selection (never expected) keeps its place at the end.
                reordered.extend(map.drain(..));
                *map = reordered;
            }
            for (key, subsets) in order {
                if let Some(v) = map.get_mut(*key) {
                    reorder(v, subsets, doc);
                }
            }
        }
        _ => {}
    }
}

/// Response keys of `set` in order, each with the sub-selections merged under it.
fn collect<'d>(set: &'d SelectionSet, doc: &'d ExecutableDocument, out: &mut Vec<(&'d Name, Vec<&'d SelectionSet>)>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let key = &f.node.response_key().node;
                let sub = &f.node.selection_set.node;
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, subs)) => subs.push(sub),
                    None => out.push((key, vec![sub])),
                }
            }
            Selection::InlineFragment(i) => collect(&i.node.selection_set.node, doc, out),
            Selection::FragmentSpread(s) => {
                if let Some(fragment) = doc.fragments.get(&s.node.fragment_name.node) {
                    collect(&fragment.node.selection_set.node, doc, out);
                }
            }
        }
    }
}
