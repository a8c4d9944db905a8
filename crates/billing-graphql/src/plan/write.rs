//! Writing a planned response: JSON straight from the upstream answers, in query order (the
//! deployments fields each on its own, the rest around holes where they go; see `execute`), each value written as async-graphql writes it (through the scalar's own
//! `to_value` where the text could differ: floats, timestamps, enums), and a failed field as
//! `null` with its error, whose message, location, path and extensions are the ones the
//! resolvers give.

use async_graphql::resolver_utils::enum_value;
use async_graphql::{ErrorExtensions, PathSegment, Pos, ScalarType, ServerError};
use billing_model::elastic::v1;
use billing_model::{ChartItem, ChartItems, OrganizationId};

use std::collections::{HashMap, HashSet};

use super::execute::{Answers, Fetched, address};
use super::*;
use crate::error::GraphError;
use crate::schema::types::{LineItem, dimensions, line_items};
use crate::schema::usage::{Slice, SliceResult, Wanted, cursor};
use crate::upstream::{IndexedInstances, V1Charts, V1DeploymentCharts, V1Deployments, V1Overview};
use billing_model::talkdesk::UsageAggregate as WireAggregate;

/// The most a writer reserves ahead of what it has written: a guess from a first item must not
/// ask for gigabytes.
const MAX_RESERVE: usize = 64 << 20;

pub(super) struct Writer<'f> {
    fetched: &'f Fetched,
    /// Deployments fields written on their own (see `execute`), by their address in the plan:
    /// the response is cut where each goes.
    holes: HashSet<usize>,
    /// What was written before each cut, and the cuts: the hole's address and how many errors
    /// came before it.
    parts: Vec<Vec<u8>>,
    cuts: Vec<(usize, usize)>,
    buf: Vec<u8>,
    errors: Vec<ServerError>,
    /// The path of the field being written, kept only down to fields that can fail.
    path: Vec<PathSegment>,
}

/// A response written around its holes: `parts` has one more element than `cuts` (what comes
/// after the last hole), each cut the hole's address and how many of `errors` came before it.
pub(super) struct Head {
    pub(super) parts: Vec<Vec<u8>>,
    pub(super) cuts: Vec<(usize, usize)>,
    pub(super) errors: Vec<ServerError>,
}

impl<'f> Writer<'f> {
    /// A writer of a deployments field, written on its own.
    pub(super) fn new(fetched: &'f Fetched) -> Self {
        Writer::with_holes(fetched, HashSet::new())
    }

    /// A writer of the response around `holes`, the fields written on their own.
    pub(super) fn with_holes(fetched: &'f Fetched, holes: HashSet<usize>) -> Self {
        Writer {
            fetched,
            holes,
            parts: Vec::new(),
            cuts: Vec::new(),
            buf: Vec::with_capacity(16 * 1024),
            errors: Vec::new(),
            path: Vec::new(),
        }
    }

    /// Makes room at once for `items` more list items the size of what is written so far (the
    /// first item) and an eighth more, rather than a buffer grown by doubling (each growth a
    /// copy, both alive at once). Capacity never touched costs no memory; at most
    /// [`MAX_RESERVE`], and when the allocator refuses, the buffer grows as it goes instead.
    pub(super) fn reserve_items(&mut self, items: usize) {
        let each = self.buf.len();
        let additional = each.saturating_mul(items).saturating_add(each.saturating_mul(items + 1) / 8);
        let _ = self.buf.try_reserve(additional.min(MAX_RESERVE));
    }

    /// How many bytes are written and not yet taken.
    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    /// What is written so far, to send on; the writer goes on in a fresh buffer of the size.
    pub(super) fn take(&mut self) -> Vec<u8> {
        let capacity = self.buf.capacity();
        std::mem::replace(&mut self.buf, Vec::with_capacity(capacity))
    }

    /// Writes below `path` (a field written on its own).
    pub(super) fn set_path(&mut self, path: Vec<PathSegment>) {
        self.path = path;
    }

    pub(super) fn open_list(&mut self) {
        self.buf.push(b'[');
    }

    /// Writes the list item at `index`, its index on the path.
    pub(super) fn list_item(&mut self, index: usize, f: impl FnOnce(&mut Self)) {
        if index > 0 {
            self.buf.push(b',');
        }
        self.path.push(PathSegment::Index(index));
        f(self);
        self.path.pop();
    }

    pub(super) fn close_list(&mut self) {
        self.buf.push(b']');
    }

    pub(super) fn null_value(&mut self) {
        self.null();
    }

    /// What is left to send, and the errors, in order.
    pub(super) fn into_parts(self) -> (Vec<u8>, Vec<ServerError>) {
        (self.buf, self.errors)
    }

    /// The response around its holes (all but its closing brace).
    pub(super) fn finish_head(mut self) -> Head {
        self.parts.push(self.buf);
        Head { parts: self.parts, cuts: self.cuts, errors: self.errors }
    }

    /// Cuts the response where the field at `address` goes.
    fn cut(&mut self, address: usize) {
        self.parts.push(std::mem::take(&mut self.buf));
        self.cuts.push((address, self.errors.len()));
    }

    /// The whole response: `{"data":{...}}`, with `"errors"` after `data` when there are any.
    pub(super) fn response(&mut self, plan: &Plan) {
        self.buf.extend_from_slice(b"{\"data\":");
        self.object(&plan.root, |w, node| match &node.field {
            RootField::Typename => w.str("Query"),
            RootField::Organization(id, fields) => w.at(&node.key, |w| match id {
                Ok(id) => w.organization(id, fields),
                Err(e) => w.fail(node.pos, e),
            }),
            RootField::Usage(wanted, fields) => w.at(&node.key, |w| match wanted {
                Err(e) => w.fail(node.pos, e),
                Ok(Wanted::Nothing(slice, result)) => w.connection(slice, result, fields),
                Ok(Wanted::Slice(slice)) => match got(&w.fetched.slices, slice) {
                    Ok(result) => w.connection(slice, result, fields),
                    Err(e) => w.fail(node.pos, e),
                },
            }),
        });
    }

    fn connection(&mut self, slice: &Slice, result: &SliceResult, fields: &[Node<ConnectionField>]) {
        let fetched = self.fetched;
        let offset = slice.offset();
        let rows = result.rows();
        self.object(fields, |w, node| match &node.field {
            ConnectionField::Typename => w.str("UsageAggregateConnection"),
            ConnectionField::Edges(fields) => {
                w.buf.push(b'[');
                for (i, row) in rows.iter().enumerate() {
                    if i > 0 {
                        w.buf.push(b',');
                    }
                    w.object(fields, |w, node| match &node.field {
                        EdgeField::Typename => w.str("UsageAggregateEdge"),
                        EdgeField::Cursor => w.str(&cursor(offset + i)),
                        EdgeField::Node(fields) => w.usage_row(row, fields),
                    });
                }
                w.buf.push(b']');
            }
            ConnectionField::Nodes(fields) => w.list(rows, |w, row| w.usage_row(row, fields)),
            ConnectionField::PageInfo(fields) => {
                let n = rows.len();
                w.object(fields, |w, node| match &node.field {
                    PageInfoField::Typename => w.str("PageInfo"),
                    PageInfoField::HasNextPage => w.scalar(&result.has_next()),
                    PageInfoField::HasPreviousPage => w.scalar(&(offset > 0)),
                    PageInfoField::StartCursor => w.opt_str((n > 0).then(|| cursor(offset)).as_deref()),
                    PageInfoField::EndCursor => w.opt_str((n > 0).then(|| cursor(offset + n - 1)).as_deref()),
                });
            }
            ConnectionField::TotalCount => match result.total() {
                Some(total) => w.scalar(&total),
                None => w.at(&node.key, |w| match got(fetched.totals(), &slice.total_query()) {
                    Ok(page) => w.opt_scalar(page.total.as_ref()),
                    Err(e) => w.fail(node.pos, e),
                }),
            },
        });
    }

    /// One usage row, written from the wire row as `UsageAggregate` would show it.
    fn usage_row(&mut self, row: &WireAggregate, fields: &[Node<UsageField>]) {
        self.object(fields, |w, node| match node.field {
            UsageField::Typename => w.str("UsageAggregate"),
            UsageField::Id => w.str(&row.id),
            UsageField::AccountId => w.opt_str(row.account_id.as_ref().map(|a| a.as_str())),
            UsageField::ProductId => w.opt_str(row.product_id.as_deref()),
            UsageField::AggregatedProductId => w.opt_str(row.aggregated_product_id.as_deref()),
            UsageField::Month => w.opt_str(row.month.map(|m| m.to_string()).as_deref()),
            UsageField::Type => w.opt_str(row.kind.as_ref().map(|k| k.as_str())),
            UsageField::Description => w.opt_str(row.description.as_deref()),
            UsageField::Currency => w.opt_str(row.currency.as_deref()),
            UsageField::Direction => w.opt_str(row.direction.as_ref().map(|d| d.as_str())),
            UsageField::Resolution => w.opt_str(row.resolution.as_deref()),
            UsageField::Unit => w.opt_str(row.unit.as_deref()),
            UsageField::Price => w.opt_scalar(row.price.as_ref()),
            UsageField::WalletName => w.opt_str(row.wallet_name.as_deref()),
            UsageField::NumberOfUnits => w.opt_scalar(row.number_of_units.as_ref()),
            UsageField::TotalAmount => w.opt_scalar(row.total_amount.as_ref()),
        });
    }

    fn organization(&mut self, org: &OrganizationId, fields: &[Node<OrgField>]) {
        let fetched = self.fetched;
        self.object(fields, |w, node| match &node.field {
            OrgField::Typename => w.str("Organization"),
            OrgField::Id => w.str(org.as_str()),
            OrgField::Costs(range, fields) => w.at(&node.key, |w| {
                let answer =
                    range.as_ref().map(|r| got(&fetched.overview, &V1Overview { org: org.clone(), range: *r }));
                match answer {
                    Ok(Ok(o)) => w.overview(o, fields),
                    Ok(Err(e)) | Err(e) => w.fail(node.pos, e),
                }
            }),
            OrgField::Deployments(..) | OrgField::Deployment(..) if w.holes.contains(&address(node)) => {
                w.cut(address(node));
            }
            // Every deployments field whose list came back is written on its own: here only
            // the failed ones.
            OrgField::Deployments(range, _) | OrgField::Deployment(Ok(_), range, _) => w.at(&node.key, |w| match range
                .as_ref()
                .map(|r| got(&fetched.deployments, &V1Deployments { org: org.clone(), range: *r }))
            {
                Ok(Err(e)) | Err(e) => w.fail(node.pos, e),
                Ok(Ok(_)) => w.fail(node.pos, &MISSING),
            }),
            OrgField::Deployment(Err(e), ..) => w.at(&node.key, |w| w.fail(node.pos, e)),
            OrgField::Charts(range, bucketing, fields) => w.at(&node.key, |w| {
                let answer = range.as_ref().map(|r| {
                    got(&fetched.charts, &V1Charts { org: org.clone(), range: *r, bucketing: (*bucketing).into() })
                });
                match answer {
                    Ok(Ok(items)) => w.chart(*bucketing, items, fields),
                    Ok(Err(e)) | Err(e) => w.fail(node.pos, e),
                }
            }),
        });
    }

    fn overview(&mut self, o: &v1::CostsOverview, fields: &[Node<OverviewField>]) {
        self.object(fields, |w, node| match &node.field {
            OverviewField::Typename => w.str("CostsOverview"),
            OverviewField::Total => w.scalar(&o.costs.total),
            OverviewField::Trials => w.scalar(&o.trials),
            OverviewField::HourlyRate => w.scalar(&o.hourly_rate),
            OverviewField::Dimensions(fields) => w.dimensions(&o.costs, fields),
            OverviewField::Balance(fields) => match &o.balance {
                None => w.null(),
                Some(b) => w.object(fields, |w, node| match &node.field {
                    BalanceField::Typename => w.str("Balance"),
                    BalanceField::Available => w.scalar(&b.available),
                    BalanceField::Remaining => w.scalar(&b.remaining),
                    BalanceField::LineItems(fields) => w.list(&b.line_items, |w, l| {
                        w.object(fields, |w, node| match &node.field {
                            GrantField::Typename => w.str("BalanceLineItem"),
                            GrantField::Id => w.str(&l.id),
                            GrantField::EcuQuantity => w.scalar(&l.ecu_quantity),
                            GrantField::EcuBalance => w.scalar(&l.ecu_balance),
                            GrantField::Start => w.scalar(&l.start),
                            GrantField::End => w.scalar(&l.end),
                        });
                    }),
                }),
            },
        });
    }

    /// One deployment; `charts` holds the answers of its chart calls.
    pub(super) fn deployment(
        &mut self,
        org: &OrganizationId,
        range: Range,
        d: &v1::DeploymentCosts,
        fields: &[Node<DeploymentField>],
        charts: &Answers<V1DeploymentCharts>,
    ) {
        let fetched = self.fetched;
        self.object(fields, |w, node| match &node.field {
            DeploymentField::Typename => w.str("Deployment"),
            DeploymentField::Id => w.str(d.deployment_id.as_str()),
            DeploymentField::Name => w.str(&d.deployment_name),
            DeploymentField::TotalCost => w.scalar(&d.costs.total),
            DeploymentField::HourlyRate => w.scalar(&d.hourly_rate),
            DeploymentField::Period(fields) => match &d.period {
                None => w.null(),
                Some(p) => w.object(fields, |w, node| match &node.field {
                    PeriodField::Typename => w.str("Period"),
                    PeriodField::Start => w.scalar(&p.start),
                    PeriodField::End => w.scalar(&p.end),
                }),
            },
            DeploymentField::Dimensions(fields) => w.dimensions(&d.costs, fields),
            DeploymentField::Charts(own, bucketing, fields) => w.at(&node.key, |w| match own {
                Err(e) => w.fail(node.pos, e),
                Ok(own) => {
                    let q = V1DeploymentCharts {
                        org: org.clone(),
                        deployment: d.deployment_id.clone(),
                        range: own.unwrap_or(range),
                        bucketing: (*bucketing).into(),
                    };
                    match got(charts, &q) {
                        Ok(items) => w.chart(*bucketing, items, fields),
                        Err(e) => w.fail(node.pos, e),
                    }
                }
            }),
            DeploymentField::LineItems(_) => w.at(&node.key, |w| match fetched.line_items().get(node, d, org, range) {
                Ok(json) => w.buf.extend_from_slice(json),
                Err(e) => w.fail(node.pos, e),
            }),
        });
    }

    /// The line items of deployment `d` in an instances answer.
    pub(super) fn line_items_of(
        &mut self,
        answer: &IndexedInstances,
        d: &v1::DeploymentCosts,
        fields: &[Node<LineItemField>],
    ) {
        // The resolvers' own conversion, so the values are theirs.
        let items: Vec<LineItem> =
            answer.get(d.deployment_id.as_str()).map_or_else(Vec::new, |i| line_items(&i.product_line_items));
        self.line_items(&items, fields);
    }

    fn line_items(&mut self, items: &[LineItem], fields: &[Node<LineItemField>]) {
        self.list(items, |w, l| {
            w.object(fields, |w, node| match &node.field {
                LineItemField::Typename => w.str("LineItem"),
                LineItemField::Name => w.str(&l.name),
                LineItemField::Sku => w.str(&l.sku),
                LineItemField::Type => w.str(&l.kind),
                LineItemField::ResourceKind => w.opt_str(l.resource_kind.as_deref()),
                LineItemField::Unit => w.str(&l.unit),
                LineItemField::Quantity => w.scalar(&l.quantity),
                LineItemField::FormattedQuantity => w.str(&l.formatted_quantity),
                LineItemField::Rate => w.scalar(&l.rate),
                LineItemField::FormattedRate => w.str(&l.formatted_rate),
                LineItemField::TotalEcu => w.scalar(&l.total_ecu),
                LineItemField::Quantities(fields) => w.list(&l.quantities, |w, q| {
                    w.object(fields, |w, node| match &node.field {
                        SegmentField::Typename => w.str("PriceSegment"),
                        SegmentField::From => w.opt_scalar(q.from.as_ref()),
                        SegmentField::To => w.opt_scalar(q.to.as_ref()),
                        SegmentField::TotalEcu => w.scalar(&q.total_ecu),
                        SegmentField::Rate => w.scalar(&q.rate),
                        SegmentField::Quantity => w.opt_scalar(q.quantity.as_ref()),
                        SegmentField::Tiers(fields) => w.list(&q.tiers, |w, t| {
                            w.object(fields, |w, node| match &node.field {
                                TierField::Typename => w.str("PriceTier"),
                                TierField::Min => w.scalar(&t.min),
                                TierField::Max => w.opt_scalar(t.max.as_ref()),
                                TierField::Quantity => w.scalar(&t.quantity),
                                TierField::Rate => w.scalar(&t.rate),
                            });
                        }),
                    });
                }),
            });
        });
    }

    fn dimensions(&mut self, costs: &v1::Costs, fields: &[Node<DimensionField>]) {
        // The resolvers' own conversion, so the values are theirs.
        let dims: Vec<crate::schema::types::CostDimension> = dimensions(costs);
        self.list(&dims, |w, d| {
            w.object(fields, |w, node| match &node.field {
                DimensionField::Typename => w.str("CostDimension"),
                DimensionField::Type => w.enum_item(d.kind),
                DimensionField::RawType => w.str(&d.raw_type),
                DimensionField::Cost => w.scalar(&d.cost),
            });
        });
    }

    fn chart(&mut self, bucketing: Bucketing, items: &ChartItems, fields: &[Node<ChartField>]) {
        self.object(fields, |w, node| match &node.field {
            ChartField::Typename => w.str("Chart"),
            ChartField::Bucketing => w.enum_item(bucketing),
            ChartField::Points(fields) => w.list(&items.data, |w, p: &ChartItem| {
                w.object(fields, |w, node| match &node.field {
                    PointField::Typename => w.str("ChartPoint"),
                    PointField::Timestamp => w.scalar(&p.timestamp),
                    PointField::Total => w.scalar(&p.total()),
                    PointField::Values(fields) => w.list(&p.values, |w, v| {
                        w.object(fields, |w, node| match &node.field {
                            ValueField::Typename => w.str("ChartValue"),
                            ValueField::Id => w.str(&v.id),
                            ValueField::Name => w.str(&v.name),
                            ValueField::Value => w.scalar(&v.value),
                        });
                    }),
                });
            }),
        });
    }

    /// Writes an object: each field's key, then its value by `each`.
    fn object<F>(&mut self, fields: &[Node<F>], mut each: impl FnMut(&mut Self, &Node<F>)) {
        self.buf.push(b'{');
        for (i, node) in fields.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            // A response key is a GraphQL name, `[_A-Za-z][_0-9A-Za-z]*`: nothing to escape.
            self.buf.push(b'"');
            self.buf.extend_from_slice(node.key.as_bytes());
            self.buf.extend_from_slice(b"\":");
            each(self, node);
        }
        self.buf.push(b'}');
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.buf.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            each(self, item);
        }
        self.buf.push(b']');
    }

    /// Runs `f` with the field `key` on the path (only fields that can fail need it).
    fn at(&mut self, key: &async_graphql::Name, f: impl FnOnce(&mut Self)) {
        self.path.push(PathSegment::Field(key.to_string()));
        f(self);
        self.path.pop();
    }

    /// A failed field: `null` in place, and its error at the current path.
    fn fail(&mut self, pos: Pos, e: &GraphError) {
        self.null();
        let mut error = e.extend().into_server_error(pos);
        error.path.clone_from(&self.path);
        self.errors.push(error);
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(b"null");
    }

    fn str(&mut self, s: &str) {
        // Writing a string into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }

    fn scalar<T: ScalarType>(&mut self, v: &T) {
        let _ = serde_json::to_writer(&mut self.buf, &v.to_value());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    fn opt_scalar<T: ScalarType>(&mut self, v: Option<&T>) {
        match v {
            Some(v) => self.scalar(v),
            None => self.null(),
        }
    }

    fn enum_item<T: async_graphql::resolver_utils::EnumType>(&mut self, v: T) {
        let _ = serde_json::to_writer(&mut self.buf, &enum_value(v));
    }
}

/// A call the rounds should have made and did not: a broken invariant, an `INTERNAL` error.
pub(super) static MISSING: GraphError = GraphError::Internal("a planned call was not made");

/// The answer of a call the fetch rounds made. Every call the writer looks up was wanted by a
/// round from the same plan, so a miss is a broken invariant: an `INTERNAL` error on that field,
/// never a panic.
fn got<'a, K: std::hash::Hash + Eq, T>(
    answers: &'a HashMap<K, Result<T, GraphError>>,
    key: &K,
) -> Result<&'a T, &'a GraphError> {
    match answers.get(key) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e),
        None => Err(&MISSING),
    }
}

/// Writes `,"errors":[…]`: the errors member after `data`.
pub(super) fn errors(errors: &[ServerError]) -> Vec<u8> {
    let mut buf = b",\"errors\":".to_vec();
    // Serializing our own error values cannot fail.
    let _ = serde_json::to_writer(&mut buf, errors);
    buf
}
