//! `schema.graphql` at the workspace root is the SDL this code builds. When it is stale, this
//! test rewrites it and fails, so the diff shows up in review.

#[test]
fn schema_graphql_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.graphql");
    let built = billing_graphql::sdl();
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    if on_disk != built {
        std::fs::write(path, &built).expect("rewrite schema.graphql");
        panic!("schema.graphql was stale and has been rewritten; review and commit it");
    }
}

#[tokio::test]
async fn every_type_field_and_argument_is_described() {
    let schema = billing_graphql::build_schema(&billing_graphql::SchemaConfig::default());
    let q = "{ __schema { types { name description fields { name description args { name description } }
             inputFields { name description } enumValues { name description } } } }";
    let response = schema.execute(q).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let json = serde_json::to_value(&response.data).unwrap();
    let blank = |v: &serde_json::Value| v.as_str().is_none_or(|s| s.trim().is_empty());
    let mut missing = Vec::new();
    for t in json["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        // Introspection's own types and the built-in scalars come from the spec.
        if name.starts_with("__") || ["String", "Boolean", "Int", "Float", "ID"].contains(&name) {
            continue;
        }
        if blank(&t["description"]) {
            missing.push(name.to_owned());
        }
        for list in ["fields", "inputFields", "enumValues"] {
            for f in t[list].as_array().into_iter().flatten() {
                if blank(&f["description"]) {
                    missing.push(format!("{name}.{}", f["name"].as_str().unwrap()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "without a description: {missing:#?}");
}
