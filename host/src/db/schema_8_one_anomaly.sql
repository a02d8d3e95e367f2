-- Payment anomalies (issue: settle only what was paid): an intent Stripe reported that the plugin
-- did not apply is kept in the audit trail with action `anomaly`, its reason starting
-- `payment {id}: `. The same anomaly (same invoice, same reason: same intent, status and record)
-- is kept once, however often its event is delivered or its intent read again.
CREATE UNIQUE INDEX audit_log_one_anomaly ON audit_log (tenant_id, invoice_id, reason)
 WHERE action = 'anomaly';
