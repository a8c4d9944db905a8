//! billing-http
