ALTER TABLE access_tokens DROP COLUMN custom_claims;
DROP TABLE action_executions;
DROP TABLE actions;
