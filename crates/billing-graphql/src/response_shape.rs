//! The response as the GraphQL spec shapes it: fields in query order, and errors as nulls.
//!
//! async-graphql 7 resolves sibling fields concurrently and collects them in completion order
//! (`FuturesUnordered`), so a slow `organization` can come after a fast `usageAggregates` even
//! when the query asks for it first. It also leaves a field that failed out of its object,
//! where the spec wants `null` there, or, for a non-null field, `null` in place of the nearest
//! nullable parent ("Handling Field Errors"). `BillingGraph::execute` keeps the parsed document
//! and, after execution, walks the response with its selection sets and the schema's field types:
//! reordering every object, and completing failed fields as the spec says. Linear in the size
//! of the response; the type look-ups happen only when the response has errors.

use std::collections::{HashMap, HashSet};

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Name, PathSegment, Positioned, Response, Value};

/// Field types by object type and field (`"[Deployment!]!"`), read once from the registry
/// async-graphql builds for the root type: the same registry `Schema::build` makes, so the types
/// cannot drift from the schema's. (A finished `Schema` keeps its registry private outside
/// extensions, and any extension costs a wrapper per field.)
#[derive(Debug, Default)]
pub(crate) struct FieldTypes(HashMap<String, HashMap<String, String>>);

impl FieldTypes {
    /// The object types' fields of the schema whose root query type is `Q`.
    pub(crate) fn of<Q: async_graphql::ObjectType>() -> Self {
        let mut registry = Registry::default();
        Q::create_type_info(&mut registry);
        let objects = registry.types.into_values().filter_map(|ty| match ty {
            MetaType::Object { name, fields, .. } => {
                Some((name, fields.into_values().map(|f| (f.name, f.ty)).collect()))
            }
            _ => None,
        });
        FieldTypes(objects.collect())
    }

    fn field(&self, type_name: &str, field: &str) -> Option<&str> {
        self.0.get(type_name)?.get(field).map(String::as_str)
    }
}

/// Shapes an executed response as the spec says: fields in query order, failed fields null.
pub(crate) fn shape(
    response: &mut Response,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    types: &FieldTypes,
) {
    // async-graphql answers `data: null` when every root field failed; the spec wants the
    // object, each failed (nullable) field null in it. With no error that has a path, nothing
    // ran (a document refused by validation never gets here from `execute`).
    if response.data == Value::Null && response.errors.iter().any(|e| !e.path.is_empty()) {
        response.data = Value::Object(IndexMap::new());
    }
    if !matches!(response.data, Value::Object(_)) {
        return;
    }
    let Some(op) = operation(doc, operation_name) else { return };
    // Field types matter only to complete failed fields.
    let types = (!response.errors.is_empty()).then_some(types);
    let failed: Vec<&[PathSegment]> = response.errors.iter().map(|e| e.path.as_slice()).collect();
    let walk = Walk { doc, types, failed: &failed };
    let root = walk.slots(&[&op.node.selection_set.node]);
    let mut data = std::mem::take(&mut response.data);
    if let Value::Object(map) = &mut data
        && !walk.object(map, Some("Query"), &root, &mut Vec::new())
    {
        // A non-null root field failed: the spec nulls `data` itself.
        data = Value::Null;
    }
    response.data = data;
}

/// Puts the errors of a shaped response in the order their fields stand in it (async-graphql
/// collects them as fields complete, so their order would change from run to run): by the
/// position of each path segment in the data, an error whose field is not found last. Stable,
/// so errors at one path keep their order.
pub(crate) fn sort_errors(response: &mut Response) {
    if response.errors.len() < 2 {
        return;
    }
    let data = &response.data;
    let position = |path: &[PathSegment]| -> Vec<usize> {
        let mut at = Some(data);
        path.iter()
            .map(|segment| {
                let (next, index) = match (at, segment) {
                    (Some(Value::Object(map)), PathSegment::Field(key)) => match map.get_full(key.as_str()) {
                        Some((i, _, v)) => (Some(v), i),
                        None => (None, usize::MAX),
                    },
                    (Some(Value::List(items)), PathSegment::Index(i)) => (items.get(*i), *i),
                    _ => (None, usize::MAX),
                };
                at = next;
                index
            })
            .collect()
    };
    let mut keyed: Vec<(Vec<usize>, async_graphql::ServerError)> =
        std::mem::take(&mut response.errors).into_iter().map(|e| (position(&e.path), e)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    response.errors = keyed.into_iter().map(|(_, e)| e).collect();
}

/// The operation a request runs, as async-graphql (and the spec's GetOperation) picks it: the
/// named one, or the document's only one. `None` when that picks nothing (a name no operation
/// has, a name for an anonymous operation, several operations and no name): async-graphql
/// reports those as request errors.
pub(crate) fn operation<'d>(
    doc: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d Positioned<OperationDefinition>> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some(op),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether an object's keys are its slots' keys, in order.
fn in_order(map: &IndexMap<Name, Value>, slots: &[Slot<'_>]) -> bool {
    map.len() == slots.len() && map.keys().zip(slots).all(|(k, s)| k == s.key)
}

/// One response key of a selection: the key, the field it reads, and the sub-selections
/// merged under it.
struct Slot<'d> {
    key: &'d Name,
    field: &'d Name,
    sets: Vec<&'d SelectionSet>,
}

struct Walk<'d> {
    doc: &'d ExecutableDocument,
    types: Option<&'d FieldTypes>,
    /// The paths of the response's errors.
    failed: &'d [&'d [PathSegment]],
}

impl<'d> Walk<'d> {
    /// The slots of merged selection sets, in query order.
    fn slots(&self, sets: &[&'d SelectionSet]) -> Vec<Slot<'d>> {
        let mut out = Vec::new();
        let mut visited = HashSet::new();
        for set in sets {
            self.collect(set, &mut out, &mut visited);
        }
        out
    }

    /// Collects the fields of `set` into `out`, as the spec's CollectFields does: a fragment
    /// already collected into these slots is not collected again (`visited`), so a cycle ends
    /// and repeated spreads cost nothing. `BillingGraph::check` has refused cycles and bounded
    /// the nesting before execution; the visited set keeps this walk finite on its own.
    fn collect(&self, set: &'d SelectionSet, out: &mut Vec<Slot<'d>>, visited: &mut HashSet<&'d Name>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let key = &f.node.response_key().node;
                    let sub = &f.node.selection_set.node;
                    match out.iter_mut().find(|s| s.key == key) {
                        Some(slot) => slot.sets.push(sub),
                        None => out.push(Slot { key, field: &f.node.name.node, sets: vec![sub] }),
                    }
                }
                Selection::InlineFragment(i) => self.collect(&i.node.selection_set.node, out, visited),
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    if let Some(fragment) = self.doc.fragments.get(name)
                        && visited.insert(name)
                    {
                        self.collect(&fragment.node.selection_set.node, out, visited);
                    }
                }
            }
        }
    }

    /// Completes a value of GraphQL type `ty` (such as `[Deployment!]!`; `None` when unknown)
    /// at `path`, whose objects select `slots`. False when it ends up null but its type is
    /// non-null, so the null must move up to the parent.
    fn value(&self, value: &mut Value, ty: Option<&str>, slots: &[Slot<'d>], path: &mut Vec<PathSegment>) -> bool {
        let non_null = ty.is_some_and(|t| t.ends_with('!'));
        let inner = ty.map(|t| t.strip_suffix('!').unwrap_or(t));
        let named = inner.map(|t| t.trim_matches(|c| c == '[' || c == ']' || c == '!'));
        // async-graphql answers null for an object all of whose selected fields failed; the
        // spec wants the object, its failed fields null. Errors under this path tell the two
        // apart from an object that really is null.
        if *value == Value::Null
            && !slots.is_empty()
            && !inner.is_some_and(|t| t.starts_with('['))
            && self.failed_below(path, None)
        {
            *value = Value::Object(IndexMap::new());
        }
        let complete = match value {
            Value::Null => true,
            // The slots are worked out once for a whole list: its elements share one selection.
            Value::List(items) => {
                let element = inner.and_then(|t| t.strip_prefix('[')).and_then(|t| t.strip_suffix(']'));
                items
                    .iter_mut()
                    .enumerate()
                    .all(|(i, item)| self.at(path, PathSegment::Index(i), |p| self.value(item, element, slots, p)))
            }
            Value::Object(map) => self.object(map, named, slots, path),
            _ => true,
        };
        if !complete {
            *value = Value::Null;
        }
        !(non_null && *value == Value::Null)
    }

    /// Runs `f` with `segment` pushed on `path`; paths are kept only when there are errors.
    fn at<R>(
        &self,
        path: &mut Vec<PathSegment>,
        segment: PathSegment,
        f: impl FnOnce(&mut Vec<PathSegment>) -> R,
    ) -> R {
        self.at_with(path, || segment, f)
    }

    fn at_with<R>(
        &self,
        path: &mut Vec<PathSegment>,
        segment: impl FnOnce() -> PathSegment,
        f: impl FnOnce(&mut Vec<PathSegment>) -> R,
    ) -> R {
        if self.failed.is_empty() {
            return f(path);
        }
        path.push(segment());
        let r = f(path);
        path.pop();
        r
    }

    /// Whether an error lies strictly below `path`; with a `key`, below `path` at that field.
    fn failed_below(&self, path: &[PathSegment], key: Option<&Name>) -> bool {
        self.failed.iter().any(|p| {
            p.len() > path.len()
                && p.starts_with(path)
                && key.is_none_or(|k| matches!(&p[path.len()], PathSegment::Field(f) if f.as_str() == k.as_str()))
        })
    }

    /// Completes the value `v` of field `slot`, of type `ty`, below the object at `path`.
    fn field(&self, v: &mut Value, ty: Option<&str>, slot: &Slot<'d>, path: &mut Vec<PathSegment>) -> bool {
        let sub = self.slots(&slot.sets);
        let segment = || PathSegment::Field(slot.key.to_string());
        self.at_with(path, segment, |p| self.value(v, ty, &sub, p))
    }

    /// Completes and reorders an object of type `type_name`. False when a non-null field of it
    /// is null, so the object itself must be.
    fn object(
        &self,
        map: &mut IndexMap<Name, Value>,
        type_name: Option<&str>,
        slots: &[Slot<'d>],
        path: &mut Vec<PathSegment>,
    ) -> bool {
        // Objects whose fields all resolved at once are usually in order already. Without errors
        // there is nothing to complete either: only the sub-objects are left to walk, by
        // position, without a key look-up.
        if self.types.is_none() && in_order(map, slots) {
            return map
                .values_mut()
                .zip(slots)
                .all(|(v, slot)| !matches!(v, Value::List(_) | Value::Object(_)) || self.field(v, None, slot, path));
        }
        for slot in slots {
            let ty = self.types.zip(type_name).and_then(|(t, n)| t.field(n, slot.field.as_str()));
            match map.get_mut(slot.key) {
                Some(v) => {
                    if !matches!(v, Value::List(_) | Value::Object(_)) && self.types.is_none() {
                        continue;
                    }
                    if !self.field(v, ty, slot, path) {
                        return false;
                    }
                }
                // A field that failed is missing, and an error names it (or a field below it).
                // A field that `@skip`/`@include` left out is missing too, with no error: it
                // stays out. `ty` is known only when there were errors.
                None if !self.failed_below(path, Some(slot.key)) => {}
                None => match ty {
                    Some(t) if t.ends_with('!') => return false,
                    Some(_) => {
                        map.insert(slot.key.clone(), Value::Null);
                    }
                    None => {}
                },
            }
        }
        if !in_order(map, slots) {
            let mut reordered = IndexMap::with_capacity(map.len());
            for slot in slots {
                // The rest is rebuilt anyway, so an O(1) removal is enough.
                if let Some((k, v)) = map.swap_remove_entry(slot.key) {
                    reordered.insert(k, v);
                }
            }
            // Anything not in the selection (never expected) keeps its place at the end.
            reordered.extend(map.drain(..));
            *map = reordered;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::{FieldTypes, shape};

    struct Query;

    #[Object]
    impl Query {
        async fn parent(&self) -> Option<Parent> {
            Some(Parent)
        }
        async fn fine(&self) -> i32 {
            1
        }
    }

    struct Parent;

    #[Object]
    impl Parent {
        async fn nullable(&self) -> async_graphql::Result<Option<i32>> {
            Err("boom".into())
        }
        async fn required(&self) -> async_graphql::Result<i32> {
            Err("boom".into())
        }
        async fn ok(&self) -> i32 {
            2
        }
    }

    async fn run(query: &str) -> String {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let types = FieldTypes::of::<Query>();
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let mut response = schema.execute(query).await;
        shape(&mut response, &doc, None, &types);
        serde_json::to_string(&response.data).unwrap()
    }

    #[tokio::test]
    async fn a_failed_nullable_field_is_null_in_place() {
        assert_eq!(run("{ parent { ok nullable } fine }").await, r#"{"parent":{"ok":2,"nullable":null},"fine":1}"#);
    }

    #[tokio::test]
    async fn an_object_whose_every_field_failed_is_an_object_of_nulls() {
        assert_eq!(run("{ parent { nullable } fine }").await, r#"{"parent":{"nullable":null},"fine":1}"#);
    }

    #[tokio::test]
    async fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
        assert_eq!(run("{ fine parent { ok required } }").await, r#"{"fine":1,"parent":null}"#);
    }

    #[test]
    fn field_types_come_from_the_registry() {
        let types = FieldTypes::of::<Query>();
        assert_eq!(types.field("Query", "parent"), Some("Parent"));
        assert_eq!(types.field("Query", "fine"), Some("Int!"));
        assert_eq!(types.field("Parent", "nullable"), Some("Int"));
        assert_eq!(types.field("Parent", "x"), None);
    }

    /// Every field of every object type of the gateway's own schema, as its SDL prints it.
    #[test]
    fn the_registry_agrees_with_the_sdl() {
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        let types = FieldTypes::of::<crate::schema::Query>();
        let doc = async_graphql::parser::parse_schema(crate::sdl()).unwrap();
        let mut checked = 0;
        for definition in doc.definitions {
            let TypeSystemDefinition::Type(t) = definition else { continue };
            let TypeKind::Object(o) = t.node.kind else { continue };
            for f in o.fields {
                let (object, field) = (t.node.name.node.as_str(), f.node.name.node.as_str());
                assert_eq!(types.field(object, field), Some(f.node.ty.node.to_string().as_str()), "{object}.{field}");
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} fields");
    }
}
