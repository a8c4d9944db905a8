//! The connection's filter: GraphQL input, checked, into the upstream's filter expression.

use billing_model::talkdesk::{Filter, MAX_FILTER_LEN};
use billing_model::{AccountId, Month};

use super::UsageFilter;
use crate::error::{GraphError, Result};

/// `Some(None)`: no filter; `Some(Some(f))`: a filter; `None`: matches nothing. Every value is
/// checked first, so a bad month is an error even beside an empty list of accounts.
pub(crate) fn build_filter(f: UsageFilter) -> Result<Option<Option<Filter>>> {
    let accounts = f
        .account_ids
        .map(|ids| {
            ids.iter()
                .map(|id| AccountId::parse(id.as_str()).map(|a| Filter::account(&a)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| GraphError::BadInput(format!("accountIds: {e}")))
        })
        .transpose()?;
    let months = f
        .months
        .map(|ms| {
            ms.iter()
                .map(|m| m.parse::<Month>().map(Filter::month))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| GraphError::BadInput(e.to_string()))
        })
        .transpose()?;
    // An empty list matches nothing.
    if accounts.as_ref().is_some_and(Vec::is_empty) || months.as_ref().is_some_and(Vec::is_empty) {
        return Ok(None);
    }
    let accounts = accounts.and_then(Filter::any);
    let months = months.and_then(Filter::any);
    let filter = Filter::all(accounts.into_iter().chain(months));
    if filter.as_ref().is_some_and(|f| f.to_string().len() > MAX_FILTER_LEN) {
        return Err(GraphError::BadInput(format!("the filter is longer than {MAX_FILTER_LEN} characters")));
    }
    Ok(Some(filter))
}
