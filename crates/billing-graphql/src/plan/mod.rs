//! The planned executor: a validated document, compiled into a plan over our own schema, that
//! fetches the upstream answers it needs in rounds and writes the response JSON straight from
//! them, in query order, with `null` and an error in place of a failed field, into one buffer or
//! out in chunks as it goes (`sink`).
//!
//! async-graphql builds a tree of `ConstValue` maps for every object of an answer, reorders it,
//! serializes it and frees it; at 50 deployments with daily charts that is ~11,000 objects per
//! answer. The plan skips the tree. It covers the cost views a dashboard asks for (see
//! [`compile`]); any other document, or one whose arguments do not bind, returns `None` and
//! takes async-graphql's path, which stays the reference: `tests/planned.rs` runs documents
//! through both and requires the same bytes.
//!
//! Compiling is linear in the document (already bounded by `bounds`), and binds the arguments
//! with the request's variables, so `@skip`/`@include` are settled here too.

mod cache;
mod execute;
mod sink;
mod window;
mod write;

use std::cell::Cell;

use async_graphql::parser::types::{ExecutableDocument, Field, OperationType, Selection, SelectionSet};
use async_graphql::{InputType, Name, Pos, Positioned, Value, Variables};
use billing_model::OrganizationId;
use chrono::{DateTime, Utc};

pub(crate) use cache::PlanCache;
pub(crate) use execute::execute;
pub(crate) use sink::Sink;
pub(crate) use window::Windows;

use crate::error::{GraphError, Result};
use crate::schema::types::Bucketing;
use crate::schema::usage::{Wanted, slice_for};
use crate::schema::{UsageFilter, UsageOrderBy};
use crate::upstream::Range;

/// A field of the plan: where it goes in the response, where it stands in the document (for
/// errors), and what it is.
#[derive(Debug)]
pub(crate) struct Node<F> {
    pub(crate) key: Name,
    pub(crate) pos: Pos,
    pub(crate) field: F,
}

/// A compiled operation: the root fields.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) root: Vec<Node<RootField>>,
}

#[derive(Debug)]
pub(crate) enum RootField {
    Typename,
    /// The id, checked; the organization's fields.
    Organization(Result<OrganizationId>, Vec<Node<OrgField>>),
    /// The slice the arguments ask for (or the caller's error); the connection's fields.
    Usage(Result<Wanted>, Vec<Node<ConnectionField>>),
}

#[derive(Debug)]
pub(crate) enum ConnectionField {
    Typename,
    Edges(Vec<Node<EdgeField>>),
    Nodes(Vec<Node<UsageField>>),
    PageInfo(Vec<Node<PageInfoField>>),
    TotalCount,
}

#[derive(Debug)]
pub(crate) enum EdgeField {
    Typename,
    Cursor,
    Node(Vec<Node<UsageField>>),
}

#[derive(Debug)]
pub(crate) enum PageInfoField {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum UsageField {
    Typename,
    Id,
    AccountId,
    ProductId,
    AggregatedProductId,
    Month,
    Type,
    Description,
    Currency,
    Direction,
    Resolution,
    Unit,
    Price,
    WalletName,
    NumberOfUnits,
    TotalAmount,
}

#[derive(Debug)]
pub(crate) enum OrgField {
    Typename,
    Id,
    Costs(Result<Range>, Vec<Node<OverviewField>>),
    Deployments(Result<Range>, Vec<Node<DeploymentField>>),
    /// The id as the caller wrote it (checked), the range, the deployment's fields.
    Deployment(Result<String>, Result<Range>, Vec<Node<DeploymentField>>),
    Charts(Result<Range>, Bucketing, Vec<Node<ChartField>>),
}

#[derive(Debug)]
pub(crate) enum OverviewField {
    Typename,
    Total,
    Trials,
    HourlyRate,
    Dimensions(Vec<Node<DimensionField>>),
    Balance(Vec<Node<BalanceField>>),
}

#[derive(Debug)]
pub(crate) enum BalanceField {
    Typename,
    Available,
    Remaining,
    LineItems(Vec<Node<GrantField>>),
}

#[derive(Debug)]
pub(crate) enum GrantField {
    Typename,
    Id,
    EcuQuantity,
    EcuBalance,
    Start,
    End,
}

#[derive(Debug)]
pub(crate) enum DeploymentField {
    Typename,
    Id,
    Name,
    TotalCost,
    HourlyRate,
    Period(Vec<Node<PeriodField>>),
    Dimensions(Vec<Node<DimensionField>>),
    /// Its own range (`None`: the deployment's), the bucketing, the chart's fields.
    Charts(Result<Option<Range>>, Bucketing, Vec<Node<ChartField>>),
    /// The v2 line items of the deployment's instance, from the organization's
    /// `/costs/instances` answer for the deployment's range.
    LineItems(Vec<Node<LineItemField>>),
}

#[derive(Debug)]
pub(crate) enum LineItemField {
    Typename,
    Name,
    Sku,
    Type,
    ResourceKind,
    Unit,
    Quantity,
    FormattedQuantity,
    Rate,
    FormattedRate,
    TotalEcu,
    Quantities(Vec<Node<SegmentField>>),
}

#[derive(Debug)]
pub(crate) enum SegmentField {
    Typename,
    From,
    To,
    TotalEcu,
    Rate,
    Quantity,
    Tiers(Vec<Node<TierField>>),
}

#[derive(Debug)]
pub(crate) enum TierField {
    Typename,
    Min,
    Max,
    Quantity,
    Rate,
}

#[derive(Debug)]
pub(crate) enum PeriodField {
    Typename,
    Start,
    End,
}

#[derive(Debug)]
pub(crate) enum DimensionField {
    Typename,
    Type,
    RawType,
    Cost,
}

#[derive(Debug)]
pub(crate) enum ChartField {
    Typename,
    Bucketing,
    Points(Vec<Node<PointField>>),
}

#[derive(Debug)]
pub(crate) enum PointField {
    Typename,
    Timestamp,
    Total,
    Values(Vec<Node<ValueField>>),
}

#[derive(Debug)]
pub(crate) enum ValueField {
    Typename,
    Id,
    Name,
    Value,
}

/// Why a document takes async-graphql's path instead.
#[derive(Debug)]
pub(crate) struct NotPlanned;

type Planned<T> = std::result::Result<T, NotPlanned>;

/// One response key of a selection: its first field (name, arguments, position) and every
/// selection set merged under the key.
struct Collected<'d> {
    key: &'d Name,
    field: &'d Positioned<Field>,
    sets: Vec<&'d SelectionSet>,
}

/// A compiled plan, with what a plan cache needs to know of it.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) plan: Plan,
    /// How many fields it has: its size, for the cache's bound.
    pub(crate) nodes: usize,
    /// Whether it read the clock: a range with one bound given has the other default to now,
    /// so the plan holds for this request alone.
    pub(crate) read_clock: bool,
}

/// Compiles the operation `operation_name` of a parsed document, binding its arguments with
/// `variables` (defaults already filled) and the request's clock. `None` when the document
/// asks for what the plan does not cover: a mutation, introspection, a field or argument of
/// another kind, or an argument that does not bind (async-graphql reports it properly).
///
/// The same document, operation and variables compile to the same plan, unless it read the
/// clock ([`Compiled::read_clock`]): what lets [`PlanCache`] keep plans.
pub(crate) fn compile(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    now: DateTime<Utc>,
) -> Option<Compiled> {
    let op = crate::response_shape::operation(doc, operation_name)?;
    if op.node.ty != OperationType::Query {
        return None;
    }
    let c = Compiler { doc, variables, now, nodes: Cell::new(0), read_clock: Cell::new(false) };
    let plan = c.root(&[&op.node.selection_set.node]).ok()?;
    Some(Compiled { plan, nodes: c.nodes.get(), read_clock: c.read_clock.get() })
}

struct Compiler<'d> {
    doc: &'d ExecutableDocument,
    variables: &'d Variables,
    now: DateTime<Utc>,
    nodes: Cell<usize>,
    read_clock: Cell<bool>,
}

impl<'d> Compiler<'d> {
    /// The fields of merged selection sets on `type_name`, in query order, as the spec's
    /// CollectFields gathers them: skipped ones left out, fragments on other types left out,
    /// each fragment collected once (`bounds` has refused cycles already; the visited set keeps
    /// this finite on its own).
    fn collect(&self, sets: &[&'d SelectionSet], type_name: &str) -> Planned<Vec<Collected<'d>>> {
        let mut out: Vec<Collected<'d>> = Vec::new();
        let mut at: std::collections::HashMap<&'d Name, usize> = std::collections::HashMap::new();
        let mut visited: Vec<&'d Name> = Vec::new();
        // An explicit stack of selection items still to visit, in reverse order.
        let mut stack: Vec<&'d Positioned<Selection>> = Vec::new();
        for set in sets.iter().rev() {
            stack.extend(set.items.iter().rev());
        }
        while let Some(item) = stack.pop() {
            if self.skipped(item.node.directives())? {
                continue;
            }
            match &item.node {
                Selection::Field(f) => {
                    let key = &f.node.response_key().node;
                    match at.get(key) {
                        // Validation compares a key's fields only within one selection set: one
                        // from a fragment or a merged parent may name another field or give
                        // other arguments, which async-graphql resolves apart. Not planned.
                        Some(&i)
                            if out[i].field.node.name != f.node.name
                                || out[i].field.node.arguments != f.node.arguments =>
                        {
                            return Err(NotPlanned);
                        }
                        Some(&i) => out[i].sets.push(&f.node.selection_set.node),
                        None => {
                            at.insert(key, out.len());
                            out.push(Collected { key, field: f, sets: vec![&f.node.selection_set.node] });
                        }
                    }
                }
                Selection::InlineFragment(i) => {
                    if i.node.type_condition.as_ref().is_none_or(|t| t.node.on.node == type_name) {
                        stack.extend(i.node.selection_set.node.items.iter().rev());
                    }
                }
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    let fragment = self.doc.fragments.get(name).ok_or(NotPlanned)?;
                    if fragment.node.type_condition.node.on.node == type_name && !visited.contains(&name) {
                        visited.push(name);
                        stack.extend(fragment.node.selection_set.node.items.iter().rev());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether `@skip`/`@include` leave a selection out. Unknown directives are validation's to
    /// refuse.
    fn skipped(&self, directives: &[Positioned<async_graphql::parser::types::Directive>]) -> Planned<bool> {
        for d in directives {
            let include = match d.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => continue,
            };
            let condition: bool = self.arg(&d.node, "if")?;
            if condition != include {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// An argument of a field or directive, bound with the variables and parsed as `T` (absent
    /// is `T`'s own default, as async-graphql parses a missing argument).
    fn arg<T: InputType>(&self, node: &impl HasArguments, name: &str) -> Planned<T> {
        T::parse(node.bound_argument(name, self.variables)).map_err(|_| NotPlanned)
    }

    /// The range arguments of a field: its own, else `default`.
    fn range(&self, field: &Field) -> Planned<Result<Option<Range>>> {
        let from: Option<DateTime<Utc>> = self.arg(field, "from")?;
        let to: Option<DateTime<Utc>> = self.arg(field, "to")?;
        // Both absent is "month to date", resolved when the plan runs; one absent defaults to
        // a bound read from the clock now.
        if from.is_some() != to.is_some() {
            self.read_clock.set(true);
        }
        Ok(Range::from_args(from, to, self.now))
    }

    fn bucketing(&self, field: &Field) -> Planned<Bucketing> {
        let b: Option<Bucketing> = self.arg(field, "bucketing")?;
        Ok(b.unwrap_or_default())
    }

    /// Compiles the fields of `type_name` with `each`, which names the field's kind from its
    /// name, field and merged sub-selections.
    fn fields<F>(
        &self,
        sets: &[&'d SelectionSet],
        type_name: &str,
        mut each: impl FnMut(&Self, &str, &'d Field, &[&'d SelectionSet]) -> Planned<F>,
    ) -> Planned<Vec<Node<F>>> {
        self.collect(sets, type_name)?
            .into_iter()
            .map(|c| {
                let field = each(self, c.field.node.name.node.as_str(), &c.field.node, &c.sets)?;
                self.nodes.set(self.nodes.get() + 1);
                Ok(Node { key: c.key.clone(), pos: c.field.pos, field })
            })
            .collect()
    }

    fn root(&self, sets: &[&'d SelectionSet]) -> Planned<Plan> {
        let root = self.fields(sets, "Query", |c, name, field, sets| match name {
            "__typename" => Ok(RootField::Typename),
            "organization" => {
                let id: async_graphql::ID = c.arg(field, "id")?;
                let id = OrganizationId::parse(&id).map_err(|e| GraphError::BadInput(format!("id: {e}")));
                Ok(RootField::Organization(id, c.organization(sets)?))
            }
            "usageAggregates" => {
                let filter: Option<UsageFilter> = c.arg(field, "filter")?;
                let first: Option<i32> = c.arg(field, "first")?;
                let after: Option<String> = c.arg(field, "after")?;
                let order: Option<UsageOrderBy> = c.arg(field, "orderBy")?;
                let wanted = slice_for(filter, first.unwrap_or(50), after, order.unwrap_or_default());
                Ok(RootField::Usage(wanted, c.connection(sets)?))
            }
            _ => Err(NotPlanned),
        })?;
        Ok(Plan { root })
    }

    fn organization(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<OrgField>>> {
        self.fields(sets, "Organization", |c, name, field, sets| {
            let range = |r: Result<Option<Range>>| r.map(|r| r.unwrap_or(Range::MonthToDate));
            Ok(match name {
                "__typename" => OrgField::Typename,
                "id" => OrgField::Id,
                "costs" => OrgField::Costs(range(c.range(field)?), c.overview(sets)?),
                "deployments" => OrgField::Deployments(range(c.range(field)?), c.deployment(sets)?),
                "deployment" => {
                    let id: async_graphql::ID = c.arg(field, "id")?;
                    let id = billing_model::ids::check(&id)
                        .map(|()| id.0)
                        .map_err(|e| GraphError::BadInput(format!("id: {e}")));
                    OrgField::Deployment(id, range(c.range(field)?), c.deployment(sets)?)
                }
                "charts" => OrgField::Charts(range(c.range(field)?), c.bucketing(field)?, c.chart(sets)?),
                _ => return Err(NotPlanned),
            })
        })
    }

    fn overview(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<OverviewField>>> {
        self.fields(sets, "CostsOverview", |c, name, _, sets| {
            Ok(match name {
                "__typename" => OverviewField::Typename,
                "total" => OverviewField::Total,
                "trials" => OverviewField::Trials,
                "hourlyRate" => OverviewField::HourlyRate,
                "dimensions" => OverviewField::Dimensions(c.dimension(sets)?),
                "balance" => OverviewField::Balance(c.fields(sets, "Balance", |c, name, _, sets| {
                    Ok(match name {
                        "__typename" => BalanceField::Typename,
                        "available" => BalanceField::Available,
                        "remaining" => BalanceField::Remaining,
                        "lineItems" => {
                            BalanceField::LineItems(c.fields(sets, "BalanceLineItem", |_, name, _, _| {
                                Ok(match name {
                                    "__typename" => GrantField::Typename,
                                    "id" => GrantField::Id,
                                    "ecuQuantity" => GrantField::EcuQuantity,
                                    "ecuBalance" => GrantField::EcuBalance,
                                    "start" => GrantField::Start,
                                    "end" => GrantField::End,
                                    _ => return Err(NotPlanned),
                                })
                            })?)
                        }
                        _ => return Err(NotPlanned),
                    })
                })?),
                _ => return Err(NotPlanned),
            })
        })
    }

    fn deployment(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<DeploymentField>>> {
        self.fields(sets, "Deployment", |c, name, field, sets| {
            Ok(match name {
                "__typename" => DeploymentField::Typename,
                "id" => DeploymentField::Id,
                "name" => DeploymentField::Name,
                "totalCost" => DeploymentField::TotalCost,
                "hourlyRate" => DeploymentField::HourlyRate,
                "period" => DeploymentField::Period(c.fields(sets, "Period", |_, name, _, _| {
                    Ok(match name {
                        "__typename" => PeriodField::Typename,
                        "start" => PeriodField::Start,
                        "end" => PeriodField::End,
                        _ => return Err(NotPlanned),
                    })
                })?),
                "dimensions" => DeploymentField::Dimensions(c.dimension(sets)?),
                "charts" => DeploymentField::Charts(c.range(field)?, c.bucketing(field)?, c.chart(sets)?),
                "lineItems" => DeploymentField::LineItems(c.line_item(sets)?),
                _ => return Err(NotPlanned),
            })
        })
    }

    fn line_item(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<LineItemField>>> {
        self.fields(sets, "LineItem", |c, name, _, sets| {
            Ok(match name {
                "__typename" => LineItemField::Typename,
                "name" => LineItemField::Name,
                "sku" => LineItemField::Sku,
                "type" => LineItemField::Type,
                "resourceKind" => LineItemField::ResourceKind,
                "unit" => LineItemField::Unit,
                "quantity" => LineItemField::Quantity,
                "formattedQuantity" => LineItemField::FormattedQuantity,
                "rate" => LineItemField::Rate,
                "formattedRate" => LineItemField::FormattedRate,
                "totalEcu" => LineItemField::TotalEcu,
                "quantities" => LineItemField::Quantities(c.fields(sets, "PriceSegment", |c, name, _, sets| {
                    Ok(match name {
                        "__typename" => SegmentField::Typename,
                        "from" => SegmentField::From,
                        "to" => SegmentField::To,
                        "totalEcu" => SegmentField::TotalEcu,
                        "rate" => SegmentField::Rate,
                        "quantity" => SegmentField::Quantity,
                        "tiers" => SegmentField::Tiers(c.fields(sets, "PriceTier", |_, name, _, _| {
                            Ok(match name {
                                "__typename" => TierField::Typename,
                                "min" => TierField::Min,
                                "max" => TierField::Max,
                                "quantity" => TierField::Quantity,
                                "rate" => TierField::Rate,
                                _ => return Err(NotPlanned),
                            })
                        })?),
                        _ => return Err(NotPlanned),
                    })
                })?),
                _ => return Err(NotPlanned),
            })
        })
    }

    fn connection(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<ConnectionField>>> {
        self.fields(sets, "UsageAggregateConnection", |c, name, _, sets| {
            Ok(match name {
                "__typename" => ConnectionField::Typename,
                "edges" => ConnectionField::Edges(c.fields(sets, "UsageAggregateEdge", |c, name, _, sets| {
                    Ok(match name {
                        "__typename" => EdgeField::Typename,
                        "cursor" => EdgeField::Cursor,
                        "node" => EdgeField::Node(c.usage(sets)?),
                        _ => return Err(NotPlanned),
                    })
                })?),
                "nodes" => ConnectionField::Nodes(c.usage(sets)?),
                "pageInfo" => ConnectionField::PageInfo(c.fields(sets, "PageInfo", |_, name, _, _| {
                    Ok(match name {
                        "__typename" => PageInfoField::Typename,
                        "hasNextPage" => PageInfoField::HasNextPage,
                        "hasPreviousPage" => PageInfoField::HasPreviousPage,
                        "startCursor" => PageInfoField::StartCursor,
                        "endCursor" => PageInfoField::EndCursor,
                        _ => return Err(NotPlanned),
                    })
                })?),
                "totalCount" => ConnectionField::TotalCount,
                _ => return Err(NotPlanned),
            })
        })
    }

    fn usage(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<UsageField>>> {
        self.fields(sets, "UsageAggregate", |_, name, _, _| {
            Ok(match name {
                "__typename" => UsageField::Typename,
                "id" => UsageField::Id,
                "accountId" => UsageField::AccountId,
                "productId" => UsageField::ProductId,
                "aggregatedProductId" => UsageField::AggregatedProductId,
                "month" => UsageField::Month,
                "type" => UsageField::Type,
                "description" => UsageField::Description,
                "currency" => UsageField::Currency,
                "direction" => UsageField::Direction,
                "resolution" => UsageField::Resolution,
                "unit" => UsageField::Unit,
                "price" => UsageField::Price,
                "walletName" => UsageField::WalletName,
                "numberOfUnits" => UsageField::NumberOfUnits,
                "totalAmount" => UsageField::TotalAmount,
                _ => return Err(NotPlanned),
            })
        })
    }

    fn dimension(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<DimensionField>>> {
        self.fields(sets, "CostDimension", |_, name, _, _| {
            Ok(match name {
                "__typename" => DimensionField::Typename,
                "type" => DimensionField::Type,
                "rawType" => DimensionField::RawType,
                "cost" => DimensionField::Cost,
                _ => return Err(NotPlanned),
            })
        })
    }

    fn chart(&self, sets: &[&'d SelectionSet]) -> Planned<Vec<Node<ChartField>>> {
        self.fields(sets, "Chart", |c, name, _, sets| {
            Ok(match name {
                "__typename" => ChartField::Typename,
                "bucketing" => ChartField::Bucketing,
                "points" => ChartField::Points(c.fields(sets, "ChartPoint", |c, name, _, sets| {
                    Ok(match name {
                        "__typename" => PointField::Typename,
                        "timestamp" => PointField::Timestamp,
                        "total" => PointField::Total,
                        "values" => PointField::Values(c.fields(sets, "ChartValue", |_, name, _, _| {
                            Ok(match name {
                                "__typename" => ValueField::Typename,
                                "id" => ValueField::Id,
                                "name" => ValueField::Name,
                                "value" => ValueField::Value,
                                _ => return Err(NotPlanned),
                            })
                        })?),
                        _ => return Err(NotPlanned),
                    })
                })?),
                _ => return Err(NotPlanned),
            })
        })
    }
}

/// Fields and directives both carry arguments.
trait HasArguments {
    /// The argument `name`, its variables replaced by their values (a missing one by null).
    fn bound_argument(&self, name: &str, variables: &Variables) -> Option<Value>;
}

fn bind(variables: &Variables) -> impl Fn(Name) -> std::result::Result<Value, std::convert::Infallible> + '_ {
    |var| Ok(variables.get(&var).cloned().unwrap_or(Value::Null))
}

impl HasArguments for Field {
    fn bound_argument(&self, name: &str, variables: &Variables) -> Option<Value> {
        self.get_argument(name).and_then(|v| v.node.clone().into_const_with(bind(variables)).ok())
    }
}

impl HasArguments for async_graphql::parser::types::Directive {
    fn bound_argument(&self, name: &str, variables: &Variables) -> Option<Value> {
        self.get_argument(name).and_then(|v| v.node.clone().into_const_with(bind(variables)).ok())
    }
}
