//! Loading slices: the per-request loader, one slice's pages, and several slices served by one
//! union filter.

use std::collections::HashMap;
use std::sync::Arc;

use billing_model::talkdesk::{Filter, MAX_FILTER_LEN, UsageAggregate as WireAggregate, UsageOrder, UsagePage};
use dataloader::BatchFn;
use dataloader::cached::Loader;

use super::paging::Rest;
use super::{PAGE, Slice, SliceResult};
use crate::context::RequestState;
use crate::error::{GraphError, Result};
use crate::upstream::{self, UsageLinkQuery, UsagePageQuery};

pub(crate) type SliceAnswer = Result<Arc<SliceResult>, GraphError>;

/// The per-request loader of slices.
pub(crate) struct SliceLoader(pub(super) Loader<Slice, SliceAnswer, SliceBatch>);

impl SliceLoader {
    pub(crate) fn new(state: Arc<RequestState>) -> Self {
        SliceLoader(Loader::new(SliceBatch { state }).with_yield_count(8))
    }
}

pub(crate) struct SliceBatch {
    state: Arc<RequestState>,
}

impl BatchFn<Slice, SliceAnswer> for SliceBatch {
    async fn load(&mut self, keys: &[Slice]) -> HashMap<Slice, SliceAnswer> {
        load_slices(&self.state, keys).await
    }
}

/// Loads slices together, as one batch: those of one order that all start at the first row are
/// served by one union filter, the others each on its own.
pub(crate) async fn load_slices(state: &RequestState, keys: &[Slice]) -> HashMap<Slice, SliceAnswer> {
    let mut groups: HashMap<UsageOrder, Vec<Slice>> = HashMap::new();
    for k in keys {
        groups.entry(k.order).or_default().push(k.clone());
    }
    let mut out = HashMap::new();
    let mut jobs = Vec::new();
    for (order, group) in groups {
        if let Some(union) = union_of(&group) {
            jobs.push(futures::future::Either::Left(async move { fetch_union(state, order, union, group).await }));
        } else {
            for key in group {
                jobs.push(futures::future::Either::Right(async move {
                    let answer = fetch_slice(state, &key).await.map(Arc::new);
                    vec![(key, answer)]
                }));
            }
        }
    }
    for answers in futures::future::join_all(jobs).await {
        out.extend(answers);
    }
    out
}

async fn page(state: &RequestState, filter: &Option<Filter>, order: UsageOrder, page: u32) -> Result<Arc<UsagePage>> {
    upstream::fetch(state, &UsagePageQuery { filter: filter.clone(), order, page, per_page: PAGE }).await
}

/// The page a `next` link points to.
async fn follow(state: &RequestState, href: &str) -> Result<Arc<UsagePage>> {
    upstream::fetch(state, &UsageLinkQuery { href: href.to_owned() }).await
}

/// One slice on its own: its first page by number, then the rest as [`Window::rest`] plans:
/// at once when the first page told the total, else by `next` links, one after another.
async fn fetch_slice(state: &RequestState, key: &Slice) -> Result<SliceResult> {
    let per = PAGE as usize;
    let window = key.window();
    let head = page(state, &key.filter, key.order, page_number(window.first_page(per))?).await?;
    let total = head.total;
    let mut rows: Vec<WireAggregate> = head.usage().to_vec();
    let mut unread = false;
    match window.rest(per, total) {
        Rest::Pages(pages) => {
            let rest = futures::future::try_join_all(
                pages.map(|p| async move { page(state, &key.filter, key.order, page_number(p)?).await }),
            )
            .await?;
            for p in &rest {
                rows.extend(p.usage().iter().cloned());
            }
        }
        Rest::Follow { rows: wanted, max_pages } => {
            let mut next = head.next().map(str::to_owned);
            let mut followed = 0;
            while rows.len() < wanted {
                let Some(href) = next.take() else { break };
                if followed == max_pages {
                    unread = true;
                    break;
                }
                let p = follow(state, &href).await?;
                rows.extend(p.usage().iter().cloned());
                next = p.next().map(str::to_owned);
                followed += 1;
            }
        }
    }
    let (rows, has_next) = window.cut(per, rows, total, unread);
    Ok(SliceResult { rows, has_next, total })
}

/// The page calls [`load_slices`] would make for `keys`, and whether each slice ends with its
/// total known (if not, its `totalCount` costs one more call): the cost estimate's view of this
/// module, kept beside the code it mirrors. `known_total` gives a slice's total when the cache
/// holds its first page; otherwise the rows are assumed to fill every window and Talkdesk to
/// send its total (it does). A union is counted to its cap of pages with its totals unknown,
/// which bounds it from above.
pub(crate) fn estimated_pages(
    keys: &[Slice],
    known_total: impl Fn(&Slice) -> Option<u64>,
) -> (Vec<UsagePageQuery>, HashMap<Slice, bool>) {
    let per = PAGE as usize;
    let mut groups: HashMap<UsageOrder, Vec<&Slice>> = HashMap::new();
    for k in keys {
        groups.entry(k.order).or_default().push(k);
    }
    let mut pages = Vec::new();
    let mut totals = HashMap::new();
    for (order, group) in groups {
        if let Some(union) = union_of(&group) {
            for p in 0..union_cap(&group) {
                let Ok(page) = page_number(p) else { break };
                pages.push(UsagePageQuery { filter: union.clone(), order, page, per_page: PAGE });
            }
            totals.extend(group.into_iter().map(|k| (k.clone(), false)));
            continue;
        }
        for k in group {
            let window = k.window();
            let first_page = window.first_page(per);
            // As `fetch_slice` reads them once the first page told the total.
            let last_page = match known_total(k) {
                Some(t) => window.last_page(per, t),
                None => (window.end().saturating_sub(1) / per).max(first_page),
            };
            for p in first_page..=last_page {
                let Ok(page) = page_number(p) else { break };
                pages.push(UsagePageQuery { filter: k.filter.clone(), order: k.order, page, per_page: PAGE });
            }
            totals.insert(k.clone(), true);
        }
    }
    (pages, totals)
}

impl Slice {
    /// The first page a slice read on its own fetches: the one that tells its total.
    pub(crate) fn head_query(&self) -> UsagePageQuery {
        let page = page_number(self.offset / PAGE as usize).unwrap_or(u32::MAX);
        UsagePageQuery { filter: self.filter.clone(), order: self.order, page, per_page: PAGE }
    }
}

/// The one filter that serves a group of slices together: more than one, all from the first
/// row, each filtered, and their `or` short enough to send. `None`: each is read on its own.
fn union_of<K: std::borrow::Borrow<Slice>>(group: &[K]) -> Option<Option<Filter>> {
    let union = Filter::any(group.iter().filter_map(|k| k.borrow().filter.clone()));
    let unionable = group.len() > 1
        && group.iter().all(|k| k.borrow().offset == 0 && k.borrow().filter.is_some())
        && union.as_ref().is_some_and(|u| u.to_string().len() <= MAX_FILTER_LEN);
    unionable.then_some(union)
}

/// The most pages a union reads: as many as the slices' windows (and one row more each) could
/// fill together, at least one.
fn union_cap<K: std::borrow::Borrow<Slice>>(keys: &[K]) -> usize {
    let rows = keys.iter().map(|k| k.borrow().first.saturating_add(1)).fold(0_usize, usize::saturating_add);
    rows.div_ceil(PAGE as usize).max(1)
}

fn page_number(index: usize) -> Result<u32> {
    u32::try_from(index.saturating_add(1)).map_err(|_| GraphError::BadInput("cursor out of range".into()))
}

/// Several slices from offset 0 served by one filter joined with `or`: pages are read in order,
/// by their `next` links, until every slice has its rows (and one more), then rows are split by each slice's filter.
///
/// The union reads at most the pages the slices' rows could fill together; a slice it leaves
/// short (its filter is rare in the union) is then read on its own, so one small filter beside
/// a large one never walks the large one's every page.
async fn fetch_union(
    state: &RequestState,
    order: UsageOrder,
    union: Option<Filter>,
    keys: Vec<Slice>,
) -> Vec<(Slice, SliceAnswer)> {
    let cap = union_cap(&keys);
    let mut rows: Vec<Vec<WireAggregate>> = vec![Vec::new(); keys.len()];
    let mut matched = vec![0_u64; keys.len()];
    let mut read = 0_usize;
    let mut next: Option<String> = None;
    let exhausted = loop {
        let p = match &next {
            None => page(state, &union, order, 1).await,
            Some(href) => follow(state, href).await,
        };
        let p = match p {
            Ok(p) => p,
            Err(e) => return keys.into_iter().map(|k| (k, Err(e.clone()))).collect(),
        };
        read += 1;
        for row in p.usage() {
            let account = row.account_id.as_ref().map_or("", |a| a.as_str());
            let month = row.month.map(|m| m.to_string()).unwrap_or_default();
            for ((k, bucket), count) in keys.iter().zip(rows.iter_mut()).zip(matched.iter_mut()) {
                if k.filter.as_ref().is_some_and(|f| f.matches(account, &month)) {
                    *count += 1;
                    // One row past the window says whether more follow; keep no more.
                    if bucket.len() <= k.first {
                        bucket.push(row.clone());
                    }
                }
            }
        }
        let Some(href) = p.next() else { break true };
        let satisfied = keys.iter().zip(&rows).all(|(k, r)| r.len() > k.first);
        if satisfied || read >= cap {
            break false;
        }
        next = Some(href.to_owned());
    };
    let answers = keys.into_iter().zip(rows).zip(matched).map(|((k, mut r), count)| async move {
        if !exhausted && r.len() <= k.first {
            // The union stopped before this slice filled: read it on its own.
            let answer = fetch_slice(state, &k).await.map(Arc::new);
            return (k, answer);
        }
        let has_next = r.len() > k.first;
        r.truncate(k.first);
        let total = exhausted.then_some(count);
        (k, Ok(Arc::new(SliceResult { rows: r, has_next, total })))
    });
    futures::future::join_all(answers).await
}
