//! scenario::validate
// TEMP stand-in (replaced at merge).
pub fn validate(
    scenario: &serde_json::Value,
    registry: &crate::schema::SchemaRegistry,
) -> Result<(), Vec<crate::schema::ValidationError>> {
    let _ = (scenario, registry);
    Ok(())
}
