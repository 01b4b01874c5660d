//! The project store's ids: validated newtypes over `String` following the core's business-id
//! rule ([`brokerdb_core::scalar::business_id`]: trimmed, then 1..=128 characters of
//! `[A-Za-z0-9._-]`), so an id never contains a separator and can be joined into Redis keys and
//! channel names (`project:{projectId}`) safely. Minted ids are a prefix plus 32 lower-case hex
//! digits: project `prj_`, artifact `art_`, webhook event `whe_`, MCP log row `mcp_`.

#[cfg(test)]
use brokerdb_core::scalar::ValidationError;
use brokerdb_core::scalar::business_id;

brokerdb_core::text_id!("A project's id." ProjectId("project_id", business_id), generated with "prj_");
brokerdb_core::text_id!("An artifact's id." ArtifactId("artifact_id", business_id), generated with "art_");
brokerdb_core::text_id!("A received webhook delivery's id." WebhookEventId("event_id", business_id), generated with "whe_");
brokerdb_core::text_id!("An MCP audit log row's id." McpLogId("log_id", business_id), generated with "mcp_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_business_id_rule() -> Result<(), ValidationError> {
        assert_eq!(ProjectId::parse(" prj_1 ")?.as_str(), "prj_1");
        assert!(ProjectId::parse("a:b").is_err());
        assert!(ArtifactId::parse("").is_err());
        let id = WebhookEventId::generate();
        assert!(id.as_str().starts_with("whe_"));
        assert_eq!(id.as_str().len(), 4 + 32);
        assert_eq!(
            McpLogId::parse(McpLogId::generate().as_str())?
                .as_str()
                .len(),
            36
        );
        Ok(())
    }
}
