//! Template cache: `template:v2:{<tenant>}:<template>:<version>` → Template JSON.

use brokerdb::model::{TenantId, trimmed_non_empty};
use brokerdb::repo::templates::Template;

use super::CanonicalizerCache;
use crate::keys::layouts::TEMPLATE;
use crate::support::to_json;
use crate::{AdapterError, cache};

const CACHE: &str = "canonicalizer_template";

/// `<prefix>template:v2:{<tenant>}:<template>:<version>`: the tenant by its id rule, the
/// template id trimmed and non-empty, `version` ≥ 1, else `validation_error`.
pub(crate) fn template_key(
    prefix: &str,
    tenant_id: &str,
    template_id: &str,
    version: i64,
) -> Result<String, AdapterError> {
    let tenant = TenantId::parse(tenant_id)?;
    let template = trimmed_non_empty("template_id", template_id)?;
    if version < 1 {
        return Err(AdapterError::invalid(
            "version",
            "must be a positive integer",
        ));
    }
    Ok(TEMPLATE.key(prefix, [tenant.as_str(), template, &version.to_string()]))
}

impl CanonicalizerCache {
    fn template_key(
        &self,
        tenant_id: &str,
        template_id: &str,
        version: i64,
    ) -> Result<String, AdapterError> {
        template_key(&self.prefix, tenant_id, template_id, version)
    }

    /// The cached template, or `None` (miss, Redis unreachable, or a corrupt entry — which is
    /// deleted). `tenant_id` by its id rule (trimmed, 1..128 of `[A-Za-z0-9._-]`), `template_id`
    /// trimmed and non-empty, `version` ≥ 1, else `validation_error`.
    pub async fn get_template_cache(
        &self,
        tenant_id: &str,
        template_id: &str,
        version: i64,
    ) -> Result<Option<Template>, AdapterError> {
        let key = self.template_key(tenant_id, template_id, version)?;
        cache::read(&self.conn, CACHE, &key, |raw| {
            let value = serde_json::from_slice(raw).ok()?;
            Template::from_json(value).ok()
        })
        .await
    }

    /// Caches `template` (validated; its own id and version are not compared with the key) for
    /// the configured TTL.
    pub async fn set_template_cache(
        &self,
        tenant_id: &str,
        template_id: &str,
        version: i64,
        template: &Template,
    ) -> Result<(), AdapterError> {
        let key = self.template_key(tenant_id, template_id, version)?;
        template.validate()?;
        cache::write(&self.conn, &key, &to_json(template)?, self.template_ttl).await
    }

    /// Removes one cached template version (e.g. on a template invalidation signal).
    pub async fn invalidate_template_cache(
        &self,
        tenant_id: &str,
        template_id: &str,
        version: i64,
    ) -> Result<(), AdapterError> {
        let key = self.template_key(tenant_id, template_id, version)?;
        crate::support::count_cache(CACHE, "bust");
        cache::delete(&self.conn, &key).await
    }
}
