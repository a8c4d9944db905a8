//! The `filter` grammar of `/express/usage/month`, as a typed expression.
//!
//! ```text
//! filter   := or_expr
//! or_expr  := and_expr ( "or" and_expr )*
//! and_expr := term ( "and" term )*
//! term     := "(" or_expr ")" | field "eq" value
//! field    := "account_id" | "month"
//! value    := "'" ( [^'] | "''" )* "'"
//! ```
//!
//! `and` binds tighter than `or`. Values are always single-quoted, with a quote inside doubled, so
//! a caller's string can never change the expression's shape. Months must be `YYYY-MM`.

use std::fmt;

use crate::{AccountId, Month};

/// The longest filter the API accepts.
pub const MAX_FILTER_LEN: usize = 1600;

/// A field a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    AccountId,
    Month,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::AccountId => "account_id",
            Field::Month => "month",
        }
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `field eq 'value'`.
    Eq(Field, String),
    /// Every operand holds. Never empty once built through the constructors.
    And(Vec<Filter>),
    /// Any operand holds. Never empty once built through the constructors.
    Or(Vec<Filter>),
}

/// A filter the grammar refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(String);

impl FilterError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        FilterError(msg.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl Filter {
    /// `account_id eq '<id>'`.
    pub fn account(id: &AccountId) -> Self {
        Filter::Eq(Field::AccountId, id.as_str().to_owned())
    }

    /// `month eq '<YYYY-MM>'`.
    pub fn month(month: Month) -> Self {
        Filter::Eq(Field::Month, month.to_string())
    }

    /// The disjunction of `filters`; `None` when there are none.
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Option<Self> {
        let mut all: Vec<Filter> = filters.into_iter().collect();
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Filter::Or(all)),
        }
    }

    /// The conjunction of `filters`; `None` when there are none.
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Option<Self> {
        let mut all: Vec<Filter> = filters.into_iter().collect();
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Filter::And(all)),
        }
    }

    /// Whether a record with this account and month passes.
    pub fn matches(&self, account_id: &str, month: &str) -> bool {
        match self {
            Filter::Eq(Field::AccountId, v) => v == account_id,
            Filter::Eq(Field::Month, v) => v == month,
            Filter::And(fs) => fs.iter().all(|f| f.matches(account_id, month)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(account_id, month)),
        }
    }

    /// Every account id the filter names.
    pub fn account_ids(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(Field::AccountId, &mut out);
        out
    }

    fn collect<'a>(&'a self, field: Field, out: &mut Vec<&'a str>) {
        match self {
            Filter::Eq(f, v) if *f == field => out.push(v),
            Filter::Eq(..) => {}
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| f.collect(field, out)),
        }
    }

    /// Parses a filter string, refusing unknown fields, unquoted values and bad months.
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(FilterError::new(format!("filter is longer than {MAX_FILTER_LEN} characters")));
        }
        let tokens = tokenize(input)?;
        let mut p = Parser { tokens: &tokens, pos: 0 };
        let filter = p.or_expr()?;
        match p.tokens.get(p.pos) {
            None => Ok(filter),
            Some(t) => Err(FilterError::new(format!("unexpected {t} in filter"))),
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, parent_is_and: bool) -> fmt::Result {
        match self {
            Filter::Eq(field, value) => {
                write!(f, "{} eq '", field.as_str())?;
                f.write_str(&value.replace('\'', "''"))?;
                f.write_str("'")
            }
            Filter::And(fs) => join(f, fs, " and ", true),
            Filter::Or(fs) if parent_is_and => {
                f.write_str("(")?;
                join(f, fs, " or ", false)?;
                f.write_str(")")
            }
            Filter::Or(fs) => join(f, fs, " or ", false),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, fs: &[Filter], sep: &str, is_and: bool) -> fmt::Result {
    for (i, filter) in fs.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        // A nested `and` inside `and` (or `or` inside `or`) needs no parentheses: both associate.
        filter.write(f, is_and)?;
    }
    Ok(())
}

impl fmt::Display for Filter {
    /// The wire form, with every value single-quoted and quotes doubled.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Word(String),
    Value(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::Word(w) => write!(f, "{w:?}"),
            Token::Value(_) => f.write_str("a quoted value"),
        }
    }
}

fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(FilterError::new(format!("unterminated quote at {start}"))),
                        Some((_, '\'')) if chars.peek().map(|&(_, c)| c) == Some('\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some((_, '\'')) => break,
                        Some((_, c)) => value.push(c),
                    }
                }
                tokens.push(Token::Value(value));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(FilterError::new(format!("unexpected character {other:?} at {start}"))),
        }
    }
    Ok(tokens)
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
}

impl Parser<'_> {
    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.pos);
        self.pos += 1;
        t
    }

    fn or_expr(&mut self) -> Result<Filter, FilterError> {
        let mut terms = vec![self.and_expr()?];
        while self.peek_keyword("or") {
            self.pos += 1;
            terms.push(self.and_expr()?);
        }
        Ok(Filter::any(terms).unwrap_or_else(|| unreachable!("at least one term")))
    }

    fn and_expr(&mut self) -> Result<Filter, FilterError> {
        let mut terms = vec![self.term()?];
        while self.peek_keyword("and") {
            self.pos += 1;
            terms.push(self.term()?);
        }
        Ok(Filter::all(terms).unwrap_or_else(|| unreachable!("at least one term")))
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        match self.next().cloned() {
            Some(Token::Open) => {
                let inner = self.or_expr()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(FilterError::new("missing ')' in filter")),
                }
            }
            Some(Token::Word(name)) => {
                let field = match name.as_str() {
                    "account_id" => Field::AccountId,
                    "month" => Field::Month,
                    other => {
                        return Err(FilterError::new(format!(
                            "unknown filter field {other:?}: expected account_id or month"
                        )));
                    }
                };
                if !self.peek_keyword("eq") {
                    return Err(FilterError::new(format!("expected 'eq' after {}", field.as_str())));
                }
                self.pos += 1;
                match self.next() {
                    Some(Token::Value(v)) => {
                        if field == Field::Month {
                            v.parse::<Month>().map_err(|e| FilterError::new(e.to_string()))?;
                        }
                        Ok(Filter::Eq(field, v.clone()))
                    }
                    _ => Err(FilterError::new(format!("expected a single-quoted value after {} eq", field.as_str()))),
                }
            }
            Some(t) => Err(FilterError::new(format!("unexpected {t} in filter"))),
            None => Err(FilterError::new("filter ends too early")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_examples() {
        let f = Filter::parse("account_id eq '5ea75fe7aa224700012eae40' or account_id eq '4ae75fe7aa224700012eae29'")
            .unwrap();
        assert_eq!(f.account_ids(), ["5ea75fe7aa224700012eae40", "4ae75fe7aa224700012eae29"]);
        let f = Filter::parse("(month eq '2003-12' and account_id eq '5ea75fe7aa224700012eae40')").unwrap();
        assert!(f.matches("5ea75fe7aa224700012eae40", "2003-12"));
        assert!(!f.matches("5ea75fe7aa224700012eae40", "2004-01"));
    }

    #[test]
    fn refuses_the_documented_typo_and_other_bad_input() {
        let err = Filter::parse("accound_id eq '5ea75fe7aa224700012eae40'").unwrap_err();
        assert!(err.message().contains("accound_id"), "{err}");
        for bad in [
            "account_id eq 5ea7",
            "month eq '2023-13'",
            "(account_id eq 'a'",
            "account_id 'a'",
            "",
            "account_id eq 'a' or",
            "month eq 'x' ; drop",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(Filter::parse(&format!("account_id eq '{}'", "a".repeat(1600))).is_err());
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = Filter::parse("account_id eq 'a' or account_id eq 'b' and month eq '2024-01'").unwrap();
        assert!(f.matches("a", "1999-01"));
        assert!(!f.matches("b", "1999-01"));
        assert!(f.matches("b", "2024-01"));
    }

    #[test]
    fn hostile_values_stay_inside_their_quotes() {
        let hostile = AccountId::new("x' or account_id eq 'victim");
        let f = Filter::all([Filter::account(&hostile), Filter::month("2024-01".parse().unwrap())]).unwrap();
        let wire = f.to_string();
        assert_eq!(wire, "account_id eq 'x'' or account_id eq ''victim' and month eq '2024-01'");
        assert_eq!(Filter::parse(&wire).unwrap(), f);
        assert_eq!(f.account_ids(), ["x' or account_id eq 'victim"]);
        assert!(!f.matches("victim", "2024-01"));
    }

    #[test]
    fn an_or_inside_an_and_is_parenthesised() {
        let accounts = Filter::any([Filter::account(&"a".into()), Filter::account(&"b".into())]).unwrap();
        let f = Filter::all([accounts, Filter::month("2024-01".parse().unwrap())]).unwrap();
        assert_eq!(f.to_string(), "(account_id eq 'a' or account_id eq 'b') and month eq '2024-01'");
        assert_eq!(Filter::parse(&f.to_string()).unwrap(), f);
    }
}
