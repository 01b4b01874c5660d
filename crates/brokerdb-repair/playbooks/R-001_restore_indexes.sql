-- Generated from schema/expected.json by brokerdb-repair's `generate` module;
-- regenerate with BROKERDB_BLESS=1 (README: database repair console), never edit by hand.
-- id: R-001
-- title: Restore every expected index
-- description: Creates each index the migrations define that is missing (CREATE INDEX IF NOT EXISTS with the migrations' definition).
-- description: Indexes owned by a constraint (primary keys, unique constraints) are not covered: the doctor reports them for a manual fix.
-- description: An index that exists under its name is left as it is, even if its definition differs.
-- required_before: table:admin_access_requests
-- required_before: table:admin_identities
-- required_before: table:admin_identity_role_bindings
-- required_before: table:admin_identity_tenant_scopes
-- required_before: table:api_tokens
-- required_before: table:approval_requests
-- required_before: table:artifacts
-- required_before: table:audit_events
-- required_before: table:db_repair_runs
-- required_before: table:enrollment_tokens
-- required_before: table:human_user_roles
-- required_before: table:human_users
-- required_before: table:integrations
-- required_before: table:jobs
-- required_before: table:manifest_signing_keys
-- required_before: table:mcp_audit_log
-- required_before: table:policy_rules
-- required_before: table:projects
-- required_before: table:secret_versions
-- required_before: table:secrets
-- required_before: table:ssrf_guard_decisions
-- required_before: table:system_audit_events
-- required_before: table:template_invalidation_outbox
-- required_before: table:template_versions
-- required_before: table:tenants
-- required_before: table:webhook_events
-- required_before: table:workload_sessions
-- required_before: table:workloads
-- required_after: index:idx_admin_access_requests_created
-- required_after: index:idx_admin_access_requests_email_created_at
-- required_after: index:idx_admin_access_requests_email_trgm
-- required_after: index:idx_admin_access_requests_name_trgm
-- required_after: index:idx_admin_access_requests_principal_status
-- required_after: index:idx_admin_access_requests_request_id_trgm
-- required_after: index:idx_admin_access_requests_requested_roles
-- required_after: index:idx_admin_access_requests_requested_tenants
-- required_after: index:idx_admin_access_requests_status_created_at
-- required_after: index:idx_admin_access_requests_subject_trgm
-- required_after: index:idx_admin_identities_created
-- required_after: index:idx_admin_identities_email
-- required_after: index:idx_admin_identities_email_trgm
-- required_after: index:idx_admin_identities_name_trgm
-- required_after: index:idx_admin_identities_status
-- required_after: index:idx_admin_identities_subject_trgm
-- required_after: index:idx_admin_identity_role_bindings_role
-- required_after: index:idx_admin_identity_tenant_scopes_tenant
-- required_after: index:idx_api_tokens_tenant_created
-- required_after: index:idx_approval_requests_descriptor_sha
-- required_after: index:idx_approval_requests_scope
-- required_after: index:idx_approval_requests_status_expires_at
-- required_after: index:idx_approval_requests_tenant_created
-- required_after: index:idx_approval_requests_tenant_status_created
-- required_after: index:idx_artifacts_project_type_updated
-- required_after: index:idx_artifacts_project_updated
-- required_after: index:idx_audit_events_correlation
-- required_after: index:idx_audit_events_tenant_action_group_timestamp
-- required_after: index:idx_audit_events_tenant_decision_timestamp
-- required_after: index:idx_audit_events_tenant_integration_timestamp
-- required_after: index:idx_audit_events_tenant_timestamp_event
-- required_after: index:idx_audit_events_tenant_workload_timestamp
-- required_after: index:idx_audit_events_writer_xid
-- required_after: index:idx_db_repair_runs_executed
-- required_after: index:idx_enrollment_tokens_expires_at
-- required_after: index:idx_enrollment_tokens_tenant_workload
-- required_after: index:idx_enrollment_tokens_used_at
-- required_after: index:idx_human_user_roles_tenant_role_created
-- required_after: index:idx_human_user_roles_tenant_role_user
-- required_after: index:idx_human_user_roles_tenant_user
-- required_after: index:idx_human_users_display_name_trgm
-- required_after: index:idx_human_users_email_trgm
-- required_after: index:idx_human_users_tenant_created_sort
-- required_after: index:idx_human_users_tenant_display_name_sort
-- required_after: index:idx_human_users_tenant_email_sort
-- required_after: index:idx_human_users_tenant_user_filters
-- required_after: index:idx_integrations_template
-- required_after: index:idx_integrations_tenant_created
-- required_after: index:idx_jobs_finished
-- required_after: index:idx_jobs_queue_dedupe_key
-- required_after: index:idx_jobs_queue_due
-- required_after: index:idx_jobs_queue_lease
-- required_after: index:idx_jobs_tenant
-- required_after: index:idx_manifest_signing_keys_status_activated_at
-- required_after: index:idx_manifest_signing_keys_status_created_at
-- required_after: index:idx_mcp_audit_log_actor_time
-- required_after: index:idx_mcp_audit_log_project_time
-- required_after: index:idx_mcp_audit_log_tool_time
-- required_after: index:idx_policy_rules_enabled
-- required_after: index:idx_policy_rules_primary_scope
-- required_after: index:idx_policy_rules_primary_scope_enabled
-- required_after: index:idx_policy_rules_workload_scope
-- required_after: index:idx_projects_tenant_created
-- required_after: index:idx_secret_versions_secret_ref_created_at
-- required_after: index:idx_secrets_tenant_integration
-- required_after: index:idx_ssrf_guard_decisions_host_timestamp
-- required_after: index:idx_ssrf_guard_decisions_reason_timestamp
-- required_after: index:idx_ssrf_guard_decisions_tenant_timestamp
-- required_after: index:idx_system_audit_events_timestamp
-- required_after: index:idx_system_audit_events_writer_xid
-- required_after: index:idx_template_invalidation_outbox_pending_due
-- required_after: index:idx_template_invalidation_outbox_status_created_at
-- required_after: index:idx_template_invalidation_outbox_tenant_created_at
-- required_after: index:idx_template_versions_tenant_template_status
-- required_after: index:idx_tenants_created
-- required_after: index:idx_webhook_events_project_payload_hash
-- required_after: index:idx_webhook_events_project_processed
-- required_after: index:idx_workload_sessions_expires_at
-- required_after: index:idx_workload_sessions_revoked_at
-- required_after: index:idx_workload_sessions_tenant_workload_created
-- required_after: index:idx_workloads_tenant_created
-- required_after: index:uq_admin_access_requests_pending_per_principal
-- required_after: index:uq_approval_requests_in_flight_descriptor
-- required_after: index:uq_human_users_tenant_email
-- required_after: index:uq_jobs_queue_dedupe_key_unfinished
-- required_after: index:uq_manifest_signing_keys_single_active
-- required_after: index:uq_webhook_events_in_flight_payload

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_created ON public.admin_access_requests USING btree (created_at DESC, request_id DESC);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_email_created_at ON public.admin_access_requests USING btree (email, created_at);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_email_trgm ON public.admin_access_requests USING gin (email brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_name_trgm ON public.admin_access_requests USING gin (name brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_principal_status ON public.admin_access_requests USING btree (issuer, subject, status);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_request_id_trgm ON public.admin_access_requests USING gin (request_id brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_requested_roles ON public.admin_access_requests USING gin (requested_roles);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_requested_tenants ON public.admin_access_requests USING gin (requested_tenant_ids);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_status_created_at ON public.admin_access_requests USING btree (status, created_at);

CREATE INDEX IF NOT EXISTS idx_admin_access_requests_subject_trgm ON public.admin_access_requests USING gin (subject brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_admin_identities_created ON public.admin_identities USING btree (created_at DESC, identity_id DESC);

CREATE INDEX IF NOT EXISTS idx_admin_identities_email ON public.admin_identities USING btree (email);

CREATE INDEX IF NOT EXISTS idx_admin_identities_email_trgm ON public.admin_identities USING gin (email brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_admin_identities_name_trgm ON public.admin_identities USING gin (name brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_admin_identities_status ON public.admin_identities USING btree (status);

CREATE INDEX IF NOT EXISTS idx_admin_identities_subject_trgm ON public.admin_identities USING gin (subject brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_admin_identity_role_bindings_role ON public.admin_identity_role_bindings USING btree (role);

CREATE INDEX IF NOT EXISTS idx_admin_identity_tenant_scopes_tenant ON public.admin_identity_tenant_scopes USING btree (tenant_id);

CREATE INDEX IF NOT EXISTS idx_api_tokens_tenant_created ON public.api_tokens USING btree (tenant_id, created_at DESC, token_id DESC);

CREATE INDEX IF NOT EXISTS idx_approval_requests_descriptor_sha ON public.approval_requests USING btree (descriptor_sha256);

CREATE INDEX IF NOT EXISTS idx_approval_requests_scope ON public.approval_requests USING btree (tenant_id, workload_id, integration_id);

CREATE INDEX IF NOT EXISTS idx_approval_requests_status_expires_at ON public.approval_requests USING btree (status, expires_at);

CREATE INDEX IF NOT EXISTS idx_approval_requests_tenant_created ON public.approval_requests USING btree (tenant_id, created_at DESC, approval_id DESC);

CREATE INDEX IF NOT EXISTS idx_approval_requests_tenant_status_created ON public.approval_requests USING btree (tenant_id, status, created_at DESC, approval_id DESC);

CREATE INDEX IF NOT EXISTS idx_artifacts_project_type_updated ON public.artifacts USING btree (tenant_id, project_id, type, updated_at DESC, artifact_id DESC);

CREATE INDEX IF NOT EXISTS idx_artifacts_project_updated ON public.artifacts USING btree (tenant_id, project_id, updated_at DESC, artifact_id DESC);

CREATE INDEX IF NOT EXISTS idx_audit_events_correlation ON public.audit_events USING btree (correlation_id);

CREATE INDEX IF NOT EXISTS idx_audit_events_tenant_action_group_timestamp ON public.audit_events USING btree (tenant_id, action_group, "timestamp" DESC, event_id DESC);

CREATE INDEX IF NOT EXISTS idx_audit_events_tenant_decision_timestamp ON public.audit_events USING btree (tenant_id, decision, "timestamp" DESC, event_id DESC);

CREATE INDEX IF NOT EXISTS idx_audit_events_tenant_integration_timestamp ON public.audit_events USING btree (tenant_id, integration_id, "timestamp" DESC, event_id DESC);

CREATE INDEX IF NOT EXISTS idx_audit_events_tenant_timestamp_event ON public.audit_events USING btree (tenant_id, "timestamp" DESC, event_id DESC);

CREATE INDEX IF NOT EXISTS idx_audit_events_tenant_workload_timestamp ON public.audit_events USING btree (tenant_id, workload_id, "timestamp" DESC, event_id DESC);

CREATE INDEX IF NOT EXISTS idx_audit_events_writer_xid ON public.audit_events USING btree (writer_xid);

CREATE INDEX IF NOT EXISTS idx_db_repair_runs_executed ON public.db_repair_runs USING btree (executed_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS idx_enrollment_tokens_expires_at ON public.enrollment_tokens USING btree (expires_at);

CREATE INDEX IF NOT EXISTS idx_enrollment_tokens_tenant_workload ON public.enrollment_tokens USING btree (tenant_id, workload_id);

CREATE INDEX IF NOT EXISTS idx_enrollment_tokens_used_at ON public.enrollment_tokens USING btree (used_at);

CREATE INDEX IF NOT EXISTS idx_human_user_roles_tenant_role_created ON public.human_user_roles USING btree (tenant_id, role, user_created_at, user_id) INCLUDE (user_enabled);

CREATE INDEX IF NOT EXISTS idx_human_user_roles_tenant_role_user ON public.human_user_roles USING btree (tenant_id, role, user_id) INCLUDE (user_enabled);

CREATE INDEX IF NOT EXISTS idx_human_user_roles_tenant_user ON public.human_user_roles USING btree (tenant_id, user_id);

CREATE INDEX IF NOT EXISTS idx_human_users_display_name_trgm ON public.human_users USING gin (display_name brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_human_users_email_trgm ON public.human_users USING gin (email brokerdb_ext.gin_trgm_ops);

CREATE INDEX IF NOT EXISTS idx_human_users_tenant_created_sort ON public.human_users USING btree (tenant_id, created_at DESC, user_id DESC) INCLUDE (enabled);

CREATE INDEX IF NOT EXISTS idx_human_users_tenant_display_name_sort ON public.human_users USING btree (tenant_id, COALESCE(display_name, ''::text), user_id) INCLUDE (enabled, created_at);

CREATE INDEX IF NOT EXISTS idx_human_users_tenant_email_sort ON public.human_users USING btree (tenant_id, email, user_id) INCLUDE (enabled, created_at);

CREATE INDEX IF NOT EXISTS idx_human_users_tenant_user_filters ON public.human_users USING btree (tenant_id, user_id) INCLUDE (enabled, created_at, email, display_name);

CREATE INDEX IF NOT EXISTS idx_integrations_template ON public.integrations USING btree (tenant_id, template_id);

CREATE INDEX IF NOT EXISTS idx_integrations_tenant_created ON public.integrations USING btree (tenant_id, created_at DESC, integration_id DESC);

CREATE INDEX IF NOT EXISTS idx_jobs_finished ON public.jobs USING btree (status, finished_at) WHERE (status = ANY (ARRAY['succeeded'::text, 'dead'::text]));

CREATE INDEX IF NOT EXISTS idx_jobs_queue_dedupe_key ON public.jobs USING btree (queue, dedupe_key) WHERE (dedupe_key IS NOT NULL);

CREATE INDEX IF NOT EXISTS idx_jobs_queue_due ON public.jobs USING btree (queue, run_at, job_id) WHERE (status = 'queued'::text);

CREATE INDEX IF NOT EXISTS idx_jobs_queue_lease ON public.jobs USING btree (queue, locked_until, job_id) WHERE (status = 'running'::text);

CREATE INDEX IF NOT EXISTS idx_jobs_tenant ON public.jobs USING btree (tenant_id) WHERE (tenant_id IS NOT NULL);

CREATE INDEX IF NOT EXISTS idx_manifest_signing_keys_status_activated_at ON public.manifest_signing_keys USING btree (status, activated_at DESC);

CREATE INDEX IF NOT EXISTS idx_manifest_signing_keys_status_created_at ON public.manifest_signing_keys USING btree (status, created_at DESC);

CREATE INDEX IF NOT EXISTS idx_mcp_audit_log_actor_time ON public.mcp_audit_log USING btree (tenant_id, actor_id, "timestamp" DESC, log_id DESC);

CREATE INDEX IF NOT EXISTS idx_mcp_audit_log_project_time ON public.mcp_audit_log USING btree (tenant_id, project_id, "timestamp" DESC, log_id DESC);

CREATE INDEX IF NOT EXISTS idx_mcp_audit_log_tool_time ON public.mcp_audit_log USING btree (tenant_id, tool, "timestamp" DESC, log_id DESC);

CREATE INDEX IF NOT EXISTS idx_policy_rules_enabled ON public.policy_rules USING btree (enabled);

CREATE INDEX IF NOT EXISTS idx_policy_rules_primary_scope ON public.policy_rules USING btree (tenant_id, integration_id, action_group, method, host);

CREATE INDEX IF NOT EXISTS idx_policy_rules_primary_scope_enabled ON public.policy_rules USING btree (tenant_id, integration_id, action_group, method, host) WHERE enabled;

CREATE INDEX IF NOT EXISTS idx_policy_rules_workload_scope ON public.policy_rules USING btree (tenant_id, workload_id);

CREATE INDEX IF NOT EXISTS idx_projects_tenant_created ON public.projects USING btree (tenant_id, created_at DESC, project_id DESC);

CREATE INDEX IF NOT EXISTS idx_secret_versions_secret_ref_created_at ON public.secret_versions USING btree (secret_ref, created_at);

CREATE INDEX IF NOT EXISTS idx_secrets_tenant_integration ON public.secrets USING btree (tenant_id, integration_id);

CREATE INDEX IF NOT EXISTS idx_ssrf_guard_decisions_host_timestamp ON public.ssrf_guard_decisions USING btree (destination_host, "timestamp" DESC);

CREATE INDEX IF NOT EXISTS idx_ssrf_guard_decisions_reason_timestamp ON public.ssrf_guard_decisions USING btree (reason_code, "timestamp" DESC);

CREATE INDEX IF NOT EXISTS idx_ssrf_guard_decisions_tenant_timestamp ON public.ssrf_guard_decisions USING btree (tenant_id, "timestamp" DESC);

CREATE INDEX IF NOT EXISTS idx_system_audit_events_timestamp ON public.system_audit_events USING btree ("timestamp" DESC, event_id DESC);

CREATE INDEX IF NOT EXISTS idx_system_audit_events_writer_xid ON public.system_audit_events USING btree (writer_xid);

CREATE INDEX IF NOT EXISTS idx_template_invalidation_outbox_pending_due ON public.template_invalidation_outbox USING btree (next_attempt_at, created_at) WHERE (status = 'pending'::template_invalidation_outbox_status);

CREATE INDEX IF NOT EXISTS idx_template_invalidation_outbox_status_created_at ON public.template_invalidation_outbox USING btree (status, created_at);

CREATE INDEX IF NOT EXISTS idx_template_invalidation_outbox_tenant_created_at ON public.template_invalidation_outbox USING btree (tenant_id, created_at);

CREATE INDEX IF NOT EXISTS idx_template_versions_tenant_template_status ON public.template_versions USING btree (tenant_id, template_id, status);

CREATE INDEX IF NOT EXISTS idx_tenants_created ON public.tenants USING btree (created_at, tenant_id);

CREATE INDEX IF NOT EXISTS idx_webhook_events_project_payload_hash ON public.webhook_events USING btree (tenant_id, project_id, payload_hash);

CREATE INDEX IF NOT EXISTS idx_webhook_events_project_processed ON public.webhook_events USING btree (tenant_id, project_id, processed);

CREATE INDEX IF NOT EXISTS idx_workload_sessions_expires_at ON public.workload_sessions USING btree (expires_at);

CREATE INDEX IF NOT EXISTS idx_workload_sessions_revoked_at ON public.workload_sessions USING btree (revoked_at);

CREATE INDEX IF NOT EXISTS idx_workload_sessions_tenant_workload_created ON public.workload_sessions USING btree (tenant_id, workload_id, created_at DESC, session_id DESC);

CREATE INDEX IF NOT EXISTS idx_workloads_tenant_created ON public.workloads USING btree (tenant_id, created_at DESC, workload_id DESC);

CREATE UNIQUE INDEX IF NOT EXISTS uq_admin_access_requests_pending_per_principal ON public.admin_access_requests USING btree (issuer, subject) WHERE (status = 'pending'::admin_access_request_status);

CREATE UNIQUE INDEX IF NOT EXISTS uq_approval_requests_in_flight_descriptor ON public.approval_requests USING btree (tenant_id, workload_id, integration_id, descriptor_sha256) WHERE (status = ANY (ARRAY['pending'::approval_status, 'approved'::approval_status]));

CREATE UNIQUE INDEX IF NOT EXISTS uq_human_users_tenant_email ON public.human_users USING btree (tenant_id, lower(email));

CREATE UNIQUE INDEX IF NOT EXISTS uq_jobs_queue_dedupe_key_unfinished ON public.jobs USING btree (queue, dedupe_key) WHERE (status = ANY (ARRAY['queued'::text, 'running'::text]));

CREATE UNIQUE INDEX IF NOT EXISTS uq_manifest_signing_keys_single_active ON public.manifest_signing_keys USING btree (status) WHERE (status = 'active'::manifest_signing_key_status);

CREATE UNIQUE INDEX IF NOT EXISTS uq_webhook_events_in_flight_payload ON public.webhook_events USING btree (tenant_id, project_id, source, payload_hash) WHERE (status = ANY (ARRAY['received'::text, 'processing'::text]));
