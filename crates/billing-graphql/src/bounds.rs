//! What a document costs, bounded before anything runs.
//!
//! A GraphQL document is small text that can stand for an enormous amount of work: a fragment
//! that spreads itself never ends, and 24 fragments that each spread the next twice stand for
//! 2^24 selections. Every pass that follows fragments (async-graphql's validation and depth
//! checks, our response pass) would do that work. So, in this order and each in linear time:
//!
//! 1. [`scan`] reads the text once, without parsing: tokens, and how deeply brackets nest
//!    (the parser recurses on nested list and object literals without a bound of its own).
//! 2. The parser builds the tree (its selection sets nest at most 64 deep).
//! 3. [`check`] walks each operation and fragment definition once, iteratively: fragment cycles
//!    are refused, and each definition's size and nesting *as it would expand* are counted from
//!    the counts of the fragments it spreads (computed first, in topological order), so nothing
//!    is expanded. Past a limit the document is refused with `QUERY_TOO_COMPLEX`.
//!
//! Only then does async-graphql validate it, and only a valid document is executed and shaped.
//! Nothing here recurses: every walk keeps its own stack.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError};

use crate::error::codes;

/// Limits on a document's text and on its expanded shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DocumentLimits {
    pub(crate) tokens: usize,
    pub(crate) nesting: usize,
    pub(crate) selections: usize,
    pub(crate) aliases: usize,
}

/// What [`scan`] reads off the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Scan {
    /// Lexical tokens: names, numbers, strings, punctuators (not white space, commas, comments).
    pub(crate) tokens: usize,
    /// The deepest nesting of `{`, `[` and `(`.
    pub(crate) nesting: usize,
}

/// Counts tokens and bracket nesting in one pass over the bytes, skipping white space, commas,
/// comments and the insides of strings. Never fails: a malformed document is the parser's to
/// report; this only bounds what the parser will be given.
pub(crate) fn scan(query: &str) -> Scan {
    let bytes = query.as_bytes();
    let (mut i, mut scan, mut depth) = (0, Scan::default(), 0usize);
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                scan.tokens += 1;
                if bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += 1;
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                scan.tokens += 1;
                i += 3;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                scan.tokens += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            b if b.is_ascii_digit() || b == b'-' => {
                // A number: digits, then fraction and exponent parts.
                scan.tokens += 1;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit()
                        || matches!(bytes[i], b'e' | b'E')
                        || (bytes[i] == b'.' && !bytes[i..].starts_with(b"..."))
                        || (matches!(bytes[i], b'+' | b'-') && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                scan.tokens += 1;
                depth += 1;
                scan.nesting = scan.nesting.max(depth);
                i += 1;
            }
            b'}' | b']' | b')' => {
                scan.tokens += 1;
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => {
                scan.tokens += 1;
                i += 1;
            }
        }
    }
    scan
}

/// The error for text past the token or nesting limit, checked before parsing.
pub(crate) fn check_text(query: &str, limits: &DocumentLimits) -> Result<(), ServerError> {
    let scan = scan(query);
    if scan.tokens > limits.tokens {
        return Err(error(
            codes::TOKEN_LIMIT_EXCEEDED,
            format!("the query has {} tokens; at most {} are allowed", scan.tokens, limits.tokens),
        ));
    }
    if scan.nesting > limits.nesting {
        return Err(error(
            codes::QUERY_TOO_COMPLEX,
            format!("brackets nest {} deep in the query; at most {} are allowed", scan.nesting, limits.nesting),
        ));
    }
    Ok(())
}

/// A definition's shape with every fragment spread expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Expanded {
    /// Fields, counted as often as expansion would repeat them (saturating).
    selections: u64,
    /// Levels below the definition's own selection set, each field with a selection set,
    /// inline fragment and fragment spread counting one, as async-graphql's recursion check
    /// counts them.
    nesting: u64,
}

/// Refuses a parsed document with a fragment cycle, or whose expanded size or nesting passes the
/// limits, or with too many aliases. Linear in the document's size.
pub(crate) fn check(doc: &ExecutableDocument, limits: &DocumentLimits) -> Result<(), ServerError> {
    let order = fragment_order(doc)?;
    let mut fragments: HashMap<&Name, Expanded> = HashMap::with_capacity(order.len());
    let mut total = Expanded::default();
    let mut aliases = 0usize;
    let mut add = |set: &SelectionSet, fragments: &HashMap<&Name, Expanded>| {
        let (expanded, a) = expand(set, fragments);
        aliases += a;
        total.selections = total.selections.saturating_add(expanded.selections);
        total.nesting = total.nesting.max(expanded.nesting);
        expanded
    };
    for name in order {
        if let Some(fragment) = doc.fragments.get(name) {
            let expanded = add(&fragment.node.selection_set.node, &fragments);
            fragments.insert(name, expanded);
        }
    }
    for (_, op) in doc.operations.iter() {
        add(&op.node.selection_set.node, &fragments);
    }
    // Every definition counts, not only the operation that will run: validation walks them all.
    let expanded = [
        (total.selections, limits.selections, "selects", "fields and fragments"),
        (total.nesting, limits.nesting, "nests", "levels deep"),
    ];
    for (value, limit, verb, unit) in expanded {
        if value > limit as u64 {
            return Err(error(
                codes::QUERY_TOO_COMPLEX,
                format!("the query {verb} {value} {unit} once its fragments are expanded; at most {limit} are allowed"),
            ));
        }
    }
    if aliases > limits.aliases {
        return Err(error(
            codes::ALIAS_LIMIT_EXCEEDED,
            format!("the query has {aliases} aliases; at most {} are allowed", limits.aliases),
        ));
    }
    Ok(())
}

/// The expanded shape of one selection set (whose spreads' fragments are in `fragments`
/// already), and the aliases written in it. Iterative: a stack of (set, level).
fn expand(set: &SelectionSet, fragments: &HashMap<&Name, Expanded>) -> (Expanded, usize) {
    let mut out = Expanded::default();
    let mut aliases = 0;
    let mut stack = vec![(set, 0u64)];
    while let Some((set, level)) = stack.pop() {
        out.nesting = out.nesting.max(level);
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    out.selections = out.selections.saturating_add(1);
                    aliases += usize::from(f.node.alias.is_some());
                    if !f.node.selection_set.node.items.is_empty() {
                        stack.push((&f.node.selection_set.node, level + 1));
                    }
                }
                Selection::InlineFragment(i) => {
                    out.selections = out.selections.saturating_add(1);
                    stack.push((&i.node.selection_set.node, level + 1));
                }
                Selection::FragmentSpread(s) => {
                    // The spread itself counts: a validator visits it, even when the fragment
                    // selects no field or is unknown (which is validation's to report), so
                    // spreads of spreads cannot fan out for free.
                    out.selections = out.selections.saturating_add(1);
                    if let Some(f) = fragments.get(&s.node.fragment_name.node) {
                        out.selections = out.selections.saturating_add(f.selections);
                        out.nesting = out.nesting.max(level + 1 + f.nesting);
                    }
                }
            }
        }
    }
    (out, aliases)
}

/// The fragments in an order where each comes after every fragment it spreads, or the error
/// for a cycle. An iterative depth-first search with three colours.
fn fragment_order(doc: &ExecutableDocument) -> Result<Vec<&Name>, ServerError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let spreads: HashMap<&Name, Vec<&Name>> = doc
        .fragments
        .iter()
        .map(|(name, f)| {
            (name, spreads_in(&f.node.selection_set.node).filter(|n| doc.fragments.contains_key(*n)).collect())
        })
        .collect();
    let mut colour: HashMap<&Name, Colour> = spreads.keys().map(|n| (*n, Colour::White)).collect();
    let mut order = Vec::with_capacity(spreads.len());
    let mut names: Vec<&Name> = spreads.keys().copied().collect();
    // A fixed order, so the cycle an error names does not depend on hashing.
    names.sort();
    for start in names {
        if colour[start] != Colour::White {
            continue;
        }
        // (fragment, index of the next spread to follow)
        let mut path: Vec<(&Name, usize)> = vec![(start, 0)];
        colour.insert(start, Colour::Grey);
        while let Some((name, next)) = path.last_mut() {
            let targets = &spreads[*name];
            if let Some(&target) = targets.get(*next) {
                *next += 1;
                match colour[target] {
                    Colour::White => {
                        colour.insert(target, Colour::Grey);
                        path.push((target, 0));
                    }
                    Colour::Grey => {
                        let from = path.iter().position(|(n, _)| *n == target).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[from..].iter().map(|(n, _)| n.as_str()).collect();
                        cycle.push(target.as_str());
                        return Err(error(
                            codes::GRAPHQL_VALIDATION_FAILED,
                            format!("fragments spread each other in a cycle: {}", cycle.join(" → ")),
                        ));
                    }
                    Colour::Black => {}
                }
            } else {
                colour.insert(*name, Colour::Black);
                order.push(*name);
                path.pop();
            }
        }
    }
    Ok(order)
}

/// The names of the fragments a selection set spreads, at any level, each time it spreads them.
fn spreads_in(set: &SelectionSet) -> impl Iterator<Item = &Name> {
    let mut stack = vec![set];
    let mut out = Vec::new();
    while let Some(set) = stack.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => stack.push(&f.node.selection_set.node),
                Selection::InlineFragment(i) => stack.push(&i.node.selection_set.node),
                Selection::FragmentSpread(s) => out.push(&s.node.fragment_name.node),
            }
        }
    }
    out.into_iter()
}

/// A document-level error with a code (no path: nothing ran).
pub(crate) fn error(code: &'static str, message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits { tokens: 10_000, nesting: 32, selections: 2_000, aliases: 30 };

    fn check_str(query: &str) -> Result<(), String> {
        check_text(query, &LIMITS).map_err(|e| e.message.clone())?;
        let doc = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        check(&doc, &LIMITS).map_err(|e| e.message)
    }

    fn code(query: &str) -> Option<String> {
        let err = check_text(query, &LIMITS).err().or_else(|| {
            let doc = async_graphql::parser::parse_query(query).ok()?;
            check(&doc, &LIMITS).err()
        })?;
        match err.extensions?.get("code")? {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// `n` fragments, each spreading the next twice; the last selects `leaf`.
    fn fan_out(n: usize, on: &str, leaf: &str) -> String {
        let mut q = String::new();
        for i in 0..n - 1 {
            q.push_str(&format!("fragment F{i} on {on} {{ ...F{next} ...F{next} }}\n", next = i + 1));
        }
        q.push_str(&format!("fragment F{} on {on} {{ {leaf} }}\n", n - 1));
        q
    }

    #[test]
    fn tokens_are_counted_like_a_lexer() {
        let tokens = |q: &str| scan(q).tokens;
        assert_eq!(tokens("{ __typename }"), 3);
        assert_eq!(tokens("query Q($a: Int = 1) { f(a: $a) # comment\n }"), 19);
        assert_eq!(tokens(r#"{ f(s: "a, b { c") }"#), 8);
        assert_eq!(tokens("{ ...F } fragment F on T { x }"), 11);
        assert_eq!(tokens("{ f(a: -1.5e+3, b: 2) }"), 11);
        // Regression: names swallowed dots, so spreads glued to names counted as one token.
        assert_eq!(tokens("{ x...f...f...f }"), 9);
    }

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(scan("{ a { b(x: [[1]]) } }").nesting, 5);
        assert_eq!(scan(r#"{ a(s: "{{{{[[[[") # {{{{"#).nesting, 2);
        assert_eq!(scan("}}}} {").nesting, 1);
        assert_eq!(scan("").nesting, 0);
    }

    #[test]
    fn deep_literals_are_refused_before_parsing() {
        let deep = format!("{{ f(a: {}1{}) }}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(code(&deep).as_deref(), Some(codes::TOKEN_LIMIT_EXCEEDED));
        let deep = format!("{{ f(a: {}1{}) }}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(code(&deep).as_deref(), Some(codes::QUERY_TOO_COMPLEX));
    }

    #[test]
    fn cycles_are_refused_and_named() {
        let err = check_str("{ ...A } fragment A on Query { ...A }").unwrap_err();
        assert_eq!(err, "fragments spread each other in a cycle: A → A");
        let err = check_str("{ ...A } fragment A on Query { x { ...B } } fragment B on X { y ...A }").unwrap_err();
        assert_eq!(err, "fragments spread each other in a cycle: A → B → A");
        assert_eq!(code("{ ...A } fragment A on Query { ...A }").as_deref(), Some(codes::GRAPHQL_VALIDATION_FAILED));
    }

    #[test]
    fn fan_out_is_counted_without_expanding_it() {
        let bomb = format!("{{ ...F0 }}\n{}", fan_out(24, "Query", "__typename"));
        let err = check_str(&bomb).unwrap_err();
        // 2^23 leaves from the operation, plus each fragment's own expansion.
        assert!(err.contains("once its fragments are expanded"), "{err}");
        assert_eq!(code(&bomb).as_deref(), Some(codes::QUERY_TOO_COMPLEX));
        // 64 levels saturate rather than overflow.
        let huge = format!("{{ ...F0 }}\n{}", fan_out(70, "Query", "__typename"));
        assert_eq!(code(&huge).as_deref(), Some(codes::QUERY_TOO_COMPLEX));
    }

    #[test]
    fn expansion_is_counted_exactly() {
        // F1 has 2 fields; F0 spreads it twice under `a`: 1 + 2 × (1 + 2); the operation:
        // x, the spread, and F0's 7. A spread counts as a selection of its own.
        let q = "{ x { ...F0 } } fragment F0 on X { a { ...F1 ...F1 } } fragment F1 on A { b c }";
        let doc = async_graphql::parser::parse_query(q).unwrap();
        let order = fragment_order(&doc).unwrap();
        assert_eq!(order.iter().map(|n| n.as_str()).collect::<Vec<_>>(), ["F1", "F0"]);
        let mut fragments = HashMap::new();
        for name in order {
            let (e, _) = expand(&doc.fragments[name].node.selection_set.node, &fragments);
            fragments.insert(name, e);
        }
        let f0 = fragments[&Name::new("F0")];
        assert_eq!((f0.selections, f0.nesting), (7, 2));
        let (_, op) = doc.operations.iter().next().unwrap();
        let (e, _) = expand(&op.node.selection_set.node, &fragments);
        // x (1) + the spread (1) + F0 (7); x's set is level 1, the spread adds 1, F0 nests 2
        // below itself.
        assert_eq!((e.selections, e.nesting), (9, 4));
    }

    /// Found by the fuzz campaign: fragments of spreads alone (the last one unknown) select no
    /// field, yet a validator visits every spread: 4^15 of them in an operation that would not
    /// even run. Spreads count, so the document is refused before any validator walks it.
    #[test]
    fn spreads_without_fields_cannot_fan_out_for_free() {
        let mut q = String::from("mutation Main { ...D0 } query Extra { __typename }\n");
        for i in 0..15 {
            let next = format!("...D{} ", i + 1).repeat(4);
            q.push_str(&format!("fragment D{i} on Query {{ {next}}}\n"));
        }
        assert_eq!(code(&q).as_deref(), Some(codes::QUERY_TOO_COMPLEX), "{:?}", check_str(&q));
    }

    #[test]
    fn nesting_through_spread_chains_is_bounded() {
        let mut q = String::from("{ ...C0 }\n");
        for i in 0..40 {
            q.push_str(&format!("fragment C{i} on Query {{ ...C{} }}\n", i + 1));
        }
        q.push_str("fragment C40 on Query { __typename }\n");
        assert_eq!(code(&q).as_deref(), Some(codes::QUERY_TOO_COMPLEX));
    }

    #[test]
    fn ordinary_documents_pass() {
        let q = "query Q($id: ID!) { organization(id: $id) { a: costs { total } ...O } } \
                 fragment O on Organization { deployments { name ... on Deployment { totalCost } } }";
        assert_eq!(check_str(q), Ok(()));
        // Unknown fragments are validation's to report.
        assert_eq!(check_str("{ ...Nope }"), Ok(()));
    }

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let many: String = (0..31).map(|i| format!("a{i}: x ")).collect();
        assert_eq!(code(&format!("{{ {many} }}")).as_deref(), Some(codes::ALIAS_LIMIT_EXCEEDED));
        assert_eq!(
            code(&format!("{{ ...F }} fragment F on Query {{ {many} }}")).as_deref(),
            Some(codes::ALIAS_LIMIT_EXCEEDED)
        );
    }
}
