//! billing-graphql
