//! Lists of objects selected with scalar fields only, built in one synchronous pass.
//!
//! async-graphql resolves each element of a list as a future, and each field of each element as
//! another boxed future polled through a `FuturesUnordered`: some ten allocations per chart point,
//! for fields that only read a number. The long lists of a response (chart points, dimensions, line
//! items, usage rows: thousands per dashboard) are objects whose selected fields are all plain
//! getters, so [`Leaves`] builds them directly when the selection allows it: fields only (aliases
//! and `__typename` included), none with arguments, directives or a sub-selection. Any other
//! selection (fragments, `ChartPoint.values`, ...) takes async-graphql's own path, and the answer
//! is the same either way (`tests/leaves.rs` compares the two). No crate offers this: it is
//! async-graphql's list resolution with its per-field futures left out.

use std::borrow::Cow;

use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_list;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult, Value};

/// Reads one scalar field of an object.
pub(crate) type Getter<T> = fn(&T) -> Value;

/// An object type whose scalar fields can be read without a context.
pub(crate) trait LeafFields: OutputType + Sized {
    /// The getter of field `name`, if it is a scalar field without arguments. It must answer what
    /// the field's resolver answers.
    fn leaf(name: &str) -> Option<Getter<Self>>;
}

/// A list field's value: the GraphQL type `[T!]!`, resolved in one pass when only leaves of `T`
/// are selected.
#[derive(Debug, Clone)]
pub(crate) struct Leaves<T>(pub(crate) Vec<T>);

impl<T> FromIterator<T> for Leaves<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Leaves(iter.into_iter().collect())
    }
}

impl<T: LeafFields> OutputType for Leaves<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        let Some(plan) = plan::<T>(ctx) else {
            return resolve_list(ctx, field, &self.0, Some(self.0.len())).await;
        };
        let typename = || Value::String(T::type_name().into_owned());
        let objects = self.0.iter().map(|item| {
            let mut object = async_graphql::indexmap::IndexMap::with_capacity(plan.len());
            for (key, getter) in &plan {
                object.insert((*key).clone(), getter.map_or_else(typename, |get| get(item)));
            }
            Value::Object(object)
        });
        Ok(Value::List(objects.collect()))
    }
}

/// The response keys of a leaf-only selection and their getters (`None` for `__typename`), in
/// query order.
type Plan<'a, T> = Vec<(&'a Name, Option<Getter<T>>)>;

/// The plan of the list's selection; `None` when it needs async-graphql's general path.
fn plan<'a, T: LeafFields>(ctx: &ContextSelectionSet<'a>) -> Option<Plan<'a, T>> {
    let items = &ctx.item.node.items;
    let mut plan: Plan<'a, T> = Vec::with_capacity(items.len());
    for selection in items {
        let Selection::Field(field) = &selection.node else { return None };
        let field = &field.node;
        if !field.arguments.is_empty() || !field.directives.is_empty() || !field.selection_set.node.items.is_empty() {
            return None;
        }
        let getter = match field.name.node.as_str() {
            "__typename" => None,
            name => Some(T::leaf(name)?),
        };
        let key = &field.response_key().node;
        // Validation lets a key repeat only for the same field; the first one places it.
        if !plan.iter().any(|(k, _)| *k == key) {
            plan.push((key, getter));
        }
    }
    // An empty selection (every field skipped) is async-graphql's to answer: it makes each
    // element null.
    (!plan.is_empty()).then_some(plan)
}

/// A scalar's value, as its resolver gives it.
pub(crate) fn scalar<S: ScalarType>(value: &S) -> Value {
    value.to_value()
}

/// An optional scalar's value: null or the scalar's.
pub(crate) fn optional<S: ScalarType>(value: &Option<S>) -> Value {
    value.as_ref().map_or(Value::Null, ScalarType::to_value)
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject, Value};

    use super::{Getter, LeafFields, Leaves};

    #[derive(SimpleObject)]
    struct Row {
        n: i32,
    }

    impl LeafFields for Row {
        // Deliberately not what the resolver answers, so a test sees which path ran.
        fn leaf(name: &str) -> Option<Getter<Self>> {
            (name == "n").then_some(|r: &Row| Value::from(r.n + 100))
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn rows(&self) -> Leaves<Row> {
            Leaves(vec![Row { n: 1 }, Row { n: 2 }])
        }
    }

    async fn run(query: &str) -> String {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        serde_json::to_string(&schema.execute(query).await.data).unwrap()
    }

    #[tokio::test]
    async fn plain_fields_take_the_one_pass_path() {
        assert_eq!(
            run("{ rows { n m: n __typename n } }").await,
            r#"{"rows":[{"n":101,"m":101,"__typename":"Row"},{"n":102,"m":102,"__typename":"Row"}]}"#
        );
        // `@skip`/`@include` are gone before execution.
        assert_eq!(
            run("{ rows { n @include(if: true) m: n @skip(if: true) } }").await,
            r#"{"rows":[{"n":101},{"n":102}]}"#
        );
    }

    #[tokio::test]
    async fn other_selections_take_async_graphqls_path() {
        assert_eq!(run("{ rows { ... on Row { n } } }").await, r#"{"rows":[{"n":1},{"n":2}]}"#);
        assert_eq!(run("{ rows { n @skip(if: true) } }").await, r#"{"rows":[null,null]}"#);
    }
}
